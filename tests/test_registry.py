import subprocess
import sys

import pytest
from paddleseg.cvlibs import manager

PLUGIN_COMPONENTS = {"MODELS": ["LiteSeg", "UAFM", "SPPM", "FLD", "LiteSegHead"], "DATASETS": ["CamVid"],
                     "LOSSES": ["OhemCrossEntropyLoss"]}
DROP_INS = [("LOSSES", "OhemCrossEntropyLoss")]  # PaddleSeg's, replaced by a faster subclass


@pytest.mark.parametrize("registry, name", [(r, n) for r, names in PLUGIN_COMPONENTS.items() for n in names])
def test_import_registers_component(registry, name):
    component = getattr(manager, registry)[name]
    assert component.__module__.startswith("paddleseg_liteseg.")


def test_import_overwrites_only_the_drop_ins_and_warns_nothing():
    code = ("import warnings; warnings.simplefilter('always'); import paddleseg; "
            "from paddleseg.cvlibs import manager; "
            "before = {r: dict(getattr(manager, r).components_dict) for r in "
            "('MODELS', 'BACKBONES', 'DATASETS', 'TRANSFORMS', 'LOSSES')}; "
            "import paddleseg_liteseg; "
            f"drop_ins = {DROP_INS!r}; "
            "now = lambda r, k: getattr(manager, r).components_dict[k]; "
            "print(all(now(r, k) is v for r, old in before.items() for k, v in old.items() "
            "if (r, k) not in drop_ins), "
            "all(issubclass(now(r, k), before[r][k]) and now(r, k) is not before[r][k] for r, k in drop_ins))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "True True"
    assert "exists already" not in result.stderr + result.stdout


def test_missing_paddle_gives_install_hint():
    code = ("import sys, importlib.util; real = importlib.util.find_spec; "
            "importlib.util.find_spec = lambda name, *a: None if name == 'paddle' else real(name, *a); "
            "import paddleseg_liteseg")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "paddleseg-liteseg[cpu]" in result.stderr and "paddlepaddle-gpu" in result.stderr
