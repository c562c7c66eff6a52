"""Paddle inference model -> ONNX with paddle2onnx, in a child process, installing nothing.

Two paddle2onnx 2.1 behaviours shape this module:

* its default post-processing (``optimize_tool="polygraphy"``) sets ``POLYGRAPHY_AUTOINSTALL_DEPS=1``
  in the environment, and Polygraphy then pip-installs its dependencies (numpy 2 among them) at
  run time, which breaks paddle and opencv. The model is converted without it
  (``optimize_tool="None"``); onnxruntime and OpenVINO fold constants themselves when they load it.
* on an op it cannot convert (e.g. adaptive pooling with a dynamic H/W) it aborts the process.
  Converting in a child process turns that into an error message.
"""
import argparse
import subprocess
import sys

from ...errors import UserError

OPSET = 13  # per-channel QDQ (int8) needs >= 13; TensorRT and OpenVINO read it
DYNAMIC_AXES = {0: "batch", 2: "height", 3: "width"}  # named alike in input and output


class OnnxExportError(UserError):
    """paddle2onnx could not convert the model; the message carries its errors."""


def convert_to_onnx(program_file, params_file, onnx_file):
    """Convert in a child process; raise ``OnnxExportError`` with paddle2onnx's errors if it fails."""
    command = [sys.executable, "-m", __name__, program_file, params_file, onnx_file]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        output = result.stdout + result.stderr
        errors = [line for line in output.splitlines()
                  if "ERROR" in line or "Error:" in line or "No module named" in line]
        hint = ""
        if "Adaptive only support static input shape" in output:
            hint = (" Adaptive pooling (PaddleSeg's own PPLiteSeg) exports only with a fixed "
                    "--input_shape; the plugin's LiteSeg config loads the same checkpoint and "
                    "exports with dynamic H and W.")
        raise OnnxExportError(f"ONNX export of {program_file} failed: "
                              + " | ".join(errors[-5:] or output.strip().splitlines()[-3:]) + hint)


def convert_in_process(program_file, params_file, onnx_file):
    """What the child process does: paddle2onnx without its optimizer, then tidy and save."""
    try:
        import onnx
        import paddle2onnx
    except ImportError as error:
        raise UserError(f"ONNX export needs paddle2onnx and onnx ({error}): "
                        "pip install 'paddleseg-liteseg[onnx]'") from None
    serialized = paddle2onnx.export(program_file, params_file, save_file=None, opset_version=OPSET,
                                    enable_onnx_checker=True, optimize_tool="None")
    model = onnx.load_from_string(serialized)
    drop_unused_initializers(model.graph)
    name_dynamic_axes(model.graph)
    onnx.checker.check_model(model)
    onnx.save(model, onnx_file)


def drop_unused_initializers(graph):
    """Remove constants no node reads (paddle2onnx leaves some; onnxruntime warns about each)."""
    used = {name for node in graph.node for name in node.input}
    kept = [initializer for initializer in graph.initializer if initializer.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def name_dynamic_axes(graph):
    """Call dynamic batch/height/width axes by name, so the output visibly follows the input."""
    for value in list(graph.input) + list(graph.output):
        dims = value.type.tensor_type.shape.dim
        axes = DYNAMIC_AXES if len(dims) == 4 else {0: "batch", 1: "height", 2: "width"}
        for axis, name in axes.items():
            if axis < len(dims) and not dims[axis].HasField("dim_value"):
                dims[axis].dim_param = name


def main(argv=None):
    parser = argparse.ArgumentParser(description="Convert a Paddle inference model to ONNX.")
    parser.add_argument("program_file")
    parser.add_argument("params_file")
    parser.add_argument("onnx_file")
    args = parser.parse_args(argv)
    try:
        convert_in_process(args.program_file, args.params_file, args.onnx_file)
    except UserError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
