"""setup.cfg ships every subpackage and the top-level configs/ as package data (the wheel itself is
built and installed into a fresh environment by .ci/run)."""
import configparser
import fnmatch
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..")


def _options():
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, "setup.cfg"))
    return parser["options"], parser["options.package_data"]


def test_every_subpackage_is_listed():
    options, _ = _options()
    listed = set(options["packages"].split())
    found = {os.path.relpath(folder, ROOT).replace(os.sep, ".")
             for folder, _, files in os.walk(os.path.join(ROOT, "paddleseg_liteseg")) if "__init__.py" in files}
    assert found | {"paddleseg_liteseg.configs"} == listed


def test_configs_are_package_data_from_the_top_level_folder():
    options, package_data = _options()
    assert options["package_dir"].split() == ["paddleseg_liteseg.configs", "=", "configs"]
    patterns = [pattern.strip() for pattern in package_data["paddleseg_liteseg.configs"].split(",")]
    shipped = [os.path.relpath(os.path.join(folder, name), os.path.join(ROOT, "configs"))
               for folder, _, files in os.walk(os.path.join(ROOT, "configs")) for name in files]
    assert shipped and all(any(fnmatch.fnmatch(path, pattern) and path.count(os.sep) == pattern.count("/")
                               for pattern in patterns) for path in shipped), shipped


OPTIONAL_RUNTIMES = ("onnx", "onnxruntime", "paddle2onnx", "openvino", "nncf", "ncnn", "pnnx", "onnx2tf", "tensorflow",
                     "ai_edge_litert", "ray", "pyarrow")


def test_modules_import_without_the_optional_runtimes():
    """A wheel installed with only [cpu] imports every module but the server's (which needs [serve]):
    the [onnx], [openvino], [ncnn] and [tflite] extras load where a function needs them, so `export` without --onnx
    and the README's example run without them."""
    script = f"""
import importlib, importlib.abc, pkgutil, sys
import paddleseg_liteseg

class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {OPTIONAL_RUNTIMES!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)")

sys.meta_path.insert(0, Missing())
for module in pkgutil.walk_packages(paddleseg_liteseg.__path__, "paddleseg_liteseg."):
    if not module.name.endswith("__main__") and not module.name.startswith(
            ("paddleseg_liteseg.serving", "paddleseg_liteseg.cli.deploy.serve")):
        importlib.import_module(module.name)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
