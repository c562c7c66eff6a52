import subprocess
import sys

import paddle

from paddleseg_liteseg.cli import main
from reference_models import build_plugin


def test_writes_a_checkpoint_the_plugin_loads(official_t_checkpoint, tmp_path, capsys):
    target = tmp_path / "liteseg_t.pdparams"
    assert main(["convert-weights", official_t_checkpoint[0], str(target)]) == 0
    assert f"Wrote 247 tensors in LiteSeg's layout to {target}" in capsys.readouterr().out
    assert set(paddle.load(str(target))) == set(build_plugin("T").state_dict())


def test_writes_paddleseg_layout_as_safetensors(official_t_checkpoint, tmp_path, capsys):
    plugin = tmp_path / "liteseg_t.pdparams"
    assert main(["convert-weights", official_t_checkpoint[0], str(plugin)]) == 0
    target = tmp_path / "pp_liteseg_t.safetensors"
    assert main(["convert-weights", str(plugin), str(target), "--to", "paddleseg"]) == 0
    assert f"Wrote 250 tensors in PaddleSeg's PPLiteSeg layout to {target}" in capsys.readouterr().out
    from safetensors.numpy import load_file
    assert set(load_file(str(target))) == set(official_t_checkpoint[1].state_dict())


def test_bad_input_is_one_clear_line(tmp_path, capsys):
    bad = tmp_path / "notes.pdparams"
    bad.write_text("hello")
    assert main(["convert-weights", str(bad), str(tmp_path / "out.pdparams")]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"paddleseg convert-weights: error: {bad} is not a readable Paddle checkpoint")
    assert "Traceback" not in error and not (tmp_path / "out.pdparams").exists()


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "paddleseg_liteseg", "--help"],
                            capture_output=True, text=True, check=True)
    assert "convert-weights" in result.stdout
