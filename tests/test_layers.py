"""The package's modules form layers: each imports only from its own layer or below, and no import
(at module level or inside a function) closes a circle. Read with the standard ``ast`` module."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "paddleseg_liteseg"
NAME = "paddleseg_liteseg"

# Bottom to top; a module belongs to the first layer whose prefixes it starts with.
LAYERS = [
    ("errors", ["errors"]),
    ("base", ["safe_load", "download", "image_files", "shipped_configs", "cpu_settings"]),
    ("data", ["datasets"]),
    ("weights", ["official_weights", "checkpoints"]),
    ("models", ["models", "losses"]),
    ("compat", ["compat", "secure_loading"]),
    ("checks", ["checks"]),
    ("evaluation", ["evaluation"]),
    ("deploy", ["deploy"]),
    ("api", ["api", "predictor", "predictions"]),
    ("serving", ["serving"]),
    ("cli", ["cli", "__main__", ""]),  # "": the package itself, which imports the public API
]


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path, modules):
    """Every module of the package that ``path`` imports, wherever the import statement is: for
    ``from X import a``, the module X.a where there is one, else X."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == NAME or target.startswith(NAME + "."):
                found.update(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target
                             for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == NAME)
    return found


def graph():
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: {target for target in imports(path, modules) if target in modules and target != name}
            for name, path in modules.items()}


def layer_of(module):
    relative = module[len(NAME) + 1:] if module != NAME else ""
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(relative == prefix or (prefix and relative.startswith(prefix + ".")) for prefix in prefixes):
            return index
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS in tests/test_layers.py")


def test_every_module_belongs_to_a_layer():
    for module in graph():
        layer_of(module)


def test_no_module_imports_from_a_layer_above_its_own():
    upward = [f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
              for module, targets in graph().items() for target in sorted(targets)
              if layer_of(target) > layer_of(module)]
    assert not upward, "\n".join(upward)


def test_no_import_circles():
    edges, state, circles = graph(), {}, []

    def visit(module, path):
        state[module] = "open"
        for target in sorted(edges[module]):
            if state.get(target) == "open":
                circles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not circles, "\n".join(circles)


@pytest.mark.parametrize("absent", ["paddleseg_liteseg.deploy.bench", "paddleseg_liteseg.deploy.reference"])
def test_infer_help_loads_neither_the_benchmark_nor_the_reference_model(absent):
    loaded = subprocess.run([sys.executable, "-c", "import sys; from paddleseg_liteseg.cli import main\n"
                             "try:\n    main(['infer', '--help'])\nexcept SystemExit:\n    pass\n"
                             "print('\\n'.join(sys.modules))"], capture_output=True, text=True, check=True).stdout
    assert "paddleseg_liteseg.cli.infer" in loaded.splitlines() and absent not in loaded.splitlines()
