"""ONNX -> NCNN (``.param`` + ``.bin``, fp32 and fp16 weights) with the ``pnnx`` wheel's converter binary.

The wheel declares PyTorch and its Python wrapper imports it, but the binary it ships
(``site-packages/pnnx/pnnx``) reads ONNX by itself: installed with ``pip install --no-deps pnnx``
it needs neither, and it is run here as a program. NCNN's ``Mat`` has no batch axis: the files take
one C x H x W image. NCNN int8 is made by NCNN's own tools (``ncnn2table``, ``ncnn2int8``), which
are not on PyPI (docs/devices.md shows the commands).
"""
import importlib.util
import os
import shutil
import subprocess
import tempfile

from .device_onnx import DeviceConversionError

PNNX_INSTALL = "pip install --no-deps pnnx"
NCNN_FILES = {"fp32": ("model.ncnn.param", "model.ncnn.bin"), "fp16": ("model_fp16.ncnn.param", "model_fp16.ncnn.bin")}
NCNN_INPUT, NCNN_OUTPUT = "in0", "out0"  # the names pnnx gives the blobs


def pnnx_binary():
    """The path of the pnnx converter program; raises DeviceConversionError, with the install
    command, where it is not installed."""
    spec = importlib.util.find_spec("pnnx")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        binary = os.path.join(folder, "pnnx")
        if os.path.isfile(binary):
            if not os.access(binary, os.X_OK):
                os.chmod(binary, os.stat(binary).st_mode | 0o111)
            return binary
    raise DeviceConversionError(f"NCNN conversion needs the pnnx converter: {PNNX_INSTALL} "
                                "(its binary needs neither PyTorch nor the wheel's other dependencies)")


def convert_to_ncnn(device_onnx, input_shape, save_dir):
    """Write ``device_onnx`` (``write_device_onnx``'s, for an N C H W ``input_shape``) as NCNN files
    to ``save_dir``: {precision: (param file, bin file)}, names relative to ``save_dir``."""
    binary = pnnx_binary()
    shape = ",".join(str(size) for size in input_shape)
    written = {}
    for precision, (param, weights) in NCNN_FILES.items():
        with tempfile.TemporaryDirectory() as work_dir:
            source = os.path.join(work_dir, "model.onnx")
            shutil.copyfile(device_onnx, source)
            result = subprocess.run([binary, source, f"inputshape=[{shape}]", f"fp16={int(precision == 'fp16')}"],
                                    cwd=work_dir, capture_output=True, text=True)
            converted = [os.path.join(work_dir, name) for name in ("model.ncnn.param", "model.ncnn.bin")]
            if result.returncode != 0 or not all(os.path.isfile(path) for path in converted):
                lines = (result.stdout + result.stderr).strip().splitlines()
                raise DeviceConversionError(f"pnnx could not convert {device_onnx} to NCNN {precision}: "
                                            + " | ".join(lines[-5:]))
            for path, name in zip(converted, (param, weights)):
                shutil.move(path, os.path.join(save_dir, name))
        written[precision] = (param, weights)
    return written
