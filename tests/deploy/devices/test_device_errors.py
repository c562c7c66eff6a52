"""What goes wrong before or during a device export says what to do: a shape the formats cannot
take, a converter or runtime that is not installed (with the command that installs it), and a
conversion whose labels differ from the model's (naming the format, the share and the images)."""
import importlib.util

import numpy as np
import pytest

import paddleseg_liteseg as psl
from paddleseg_liteseg.cli import main
from paddleseg_liteseg.deploy.devices import ncnn_conversion, tflite_conversion
from paddleseg_liteseg.deploy.devices.device_check import CheckImages, check_device_files, raise_failures
from paddleseg_liteseg.deploy.devices.device_onnx import DeviceConversionError
from paddleseg_liteseg.deploy.exporting.device_files import device_files
from paddleseg_liteseg.deploy.exporting.exported_model import ExportedModel
from paddleseg_liteseg.deploy.running import runtimes
from paddleseg_liteseg.deploy.running.device_runtimes import NcnnRuntime, TfliteRuntime
from paddleseg_liteseg.errors import UserError


@pytest.mark.parametrize("input_shape", [None, [1, 3, None, None], [2, 3, 96, 160]])
def test_device_formats_need_a_fixed_shape_of_one_image(toy_model, tmp_path, input_shape):
    with pytest.raises(UserError, match="need a fixed input_shape of 1 3 H W") as error:
        psl.export(toy_model.config, str(tmp_path / "out"), weights=toy_model.checkpoint, formats=["ncnn"],
                   input_shape=input_shape)
    assert error.value.argument == "input_shape" and not (tmp_path / "out").exists()


def test_the_command_line_names_the_flag(toy_model, tmp_path, capsys):
    assert main(["export", "--config", toy_model.config, "--model_path", toy_model.checkpoint,
                 "--save_dir", str(tmp_path / "out"), "--format", "tflite"]) != 0
    assert "--input_shape" in capsys.readouterr().err and not (tmp_path / "out").exists()


def hide(monkeypatch, *modules):
    """Make ``modules`` look uninstalled."""
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None if name in modules
                        else find_spec(name, *args))


def test_a_missing_pnnx_is_named_with_its_install_command(monkeypatch):
    hide(monkeypatch, "pnnx")
    with pytest.raises(DeviceConversionError, match=r"pip install --no-deps pnnx"):
        ncnn_conversion.pnnx_binary()


def test_a_missing_onnx2tf_is_named_with_its_extra(monkeypatch, tmp_path):
    hide(monkeypatch, "onnx2tf")
    with pytest.raises(DeviceConversionError, match=r"pip install 'paddleseg-liteseg\[tflite\]'"):
        tflite_conversion.convert_to_tflite("model.onnx", "x", [np.zeros((3, 8, 8), "float32")], str(tmp_path))


@pytest.mark.parametrize("runtime,module,extra", [(NcnnRuntime, "ncnn", "ncnn"),
                                                   (TfliteRuntime, "ai_edge_litert", "tflite")])
def test_a_missing_runtime_is_named_with_its_extra(monkeypatch, runtime, module, extra):
    hide(monkeypatch, module)
    model = ExportedModel("nowhere", {})
    assert runtime.unavailable(model, "cpu", "fp32") == f"{module} is not installed: pip install 'paddleseg-liteseg[{extra}]'"


def test_a_model_without_device_files_says_how_to_export_them(fixed_export):
    with pytest.raises(UserError, match=r"no ncnn fp32 file: export it with formats=\['ncnn'\]"):
        runtimes.create_runtime(ExportedModel.read(fixed_export), "ncnn")


@pytest.mark.slow
def test_a_conversion_that_disagrees_fails_naming_format_share_and_images(device_export, monkeypatch):
    """A runtime standing for a wrong conversion (its labels shifted by one class) fails the check."""
    model = ExportedModel.read(device_export["dir"])
    ncnn_runtime = runtimes.BACKENDS["ncnn"]

    class Shifted(ncnn_runtime):
        def __call__(self, batch):
            return (super().__call__(batch) + 1) % 5

    monkeypatch.setitem(runtimes.BACKENDS, "ncnn", Shifted)
    images = [model.preprocess(np.full((96, 160, 3), value, np.uint8))[0] for value in (40, 120, 200)]
    check = CheckImages(images, ["dark.png", "grey.png", "light.png"])
    files = [file for file in device_files(model) if file.precision == "fp32"]
    checked, failures = check_device_files(model, files, check, num_classes=5)
    assert [file.format for file in checked] == ["ncnn", "tflite"]
    assert checked[0].agreement == 0 and checked[1].agreement == 1
    with pytest.raises(DeviceConversionError) as error:
        raise_failures(failures, model.directory)
    message = str(error.value)
    assert "ncnn fp32 (model.ncnn.param, model.ncnn.bin)" in message and "0.00% of the pixels of 3 images" in message
    assert "dark.png" in message and "tflite" not in message
