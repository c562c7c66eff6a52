"""Export a model for deployment: a Paddle inference model, PaddleSeg's ``deploy.yaml``, and ONNX.

The Paddle model and ``deploy.yaml`` are what PaddleSeg's ``tools/export.py`` writes, with one fix:
on Paddle 3 (PIR) ``paddle.jit.save`` writes ``model.json``, not the ``model.pdmodel`` that
PaddleSeg 2.8 names in ``deploy.yaml``, so the file named here is the file that was written.
H and W (and the batch) stay dynamic unless ``input_shape`` fixes them; the plugin's SPPM pools
with shape-agnostic matrices, so the ONNX model is dynamic too.
"""
import os

import paddle
from paddleseg.deploy.export import WrappedModel

from ...errors import UserError
from .exported_model import ExportedModel
from .fixed_shape import fitted_transforms
from .model_files import (CLASS_NAMES_KEY, INPUT_NAME, INPUT_SHAPE_KEY, MODEL_KEY, MODEL_PREFIX, ONNX_FILE, ONNX_KEY, OUTPUT_DTYPE_KEY, OUTPUT_OP_KEY, PALETTE_KEY, PARAMS_FILE, PARAMS_KEY, PROGRAM_FILES, SLIDE_KEY, TRANSFORMS_KEY)
from .onnx_conversion import convert_to_onnx

OUTPUT_OPS = ("argmax", "softmax", "none")


class ExportError(UserError):
    """The model could not be exported; the message says which step failed and what to change."""


def write_inference_model(model, save_dir, transforms, input_shape=None, output_op="argmax", onnx=False,
                          palette=None, class_names=None, slide=None):
    """Write ``model`` to ``save_dir`` as a Paddle inference model with ``deploy.yaml`` (and ONNX);
    ``api.export`` is the public entry, which takes a config or a model and adds int8.

    Args:
        model (nn.Layer): A PaddleSeg model returning a list of logits (the first is used).
        save_dir (str): Output directory.
        transforms (list[dict]): Preprocessing as PaddleSeg config entries (the val transforms).
        input_shape (list[int], optional): Fixed N C H W; None keeps N, H and W dynamic. A fixed
            H x W ends the deployed transforms with a resize to it (``fixed_shape``).
        output_op (str): "argmax" (int32 labels N H W), "softmax" or "none" (float N C H W).
        onnx (bool): Also write ``model.onnx`` (needs paddle2onnx: the ``onnx`` extra).
        palette (list[tuple[int]], optional): Class colours (R, G, B) for overlays, and
        class_names (list[str], optional): the class names, both kept in ``deploy.yaml`` as keys
            PaddleSeg's reader ignores.
        slide (dict, optional): The sliding window ({crop_size, stride}, each [W, H]) that inference
            takes by default (the config's test_config); needs logits (output_op "none").
    Returns:
        ExportedModel: The directory written.
    """
    if output_op not in OUTPUT_OPS:
        raise ExportError(f"output_op must be one of {OUTPUT_OPS}, got {output_op!r}")
    if slide and output_op == "argmax":
        raise ExportError("the config's test_config slides windows, which averages logits: export with output_op "
                          "'none' (or leave it out)", argument="output_op")
    shape = list(input_shape) if input_shape else [None, 3, None, None]
    if len(shape) != 4:
        raise ExportError(f"input_shape needs 4 numbers (N C H W), got {shape}")
    os.makedirs(save_dir, exist_ok=True)
    model.eval()
    if output_op != "none":
        model = WrappedModel(model, output_op)
    spec = [paddle.static.InputSpec(list(shape), "float32", name=INPUT_NAME)]
    static_model = paddle.jit.to_static(model, input_spec=spec, full_graph=True)
    paddle.jit.save(static_model, os.path.join(save_dir, MODEL_PREFIX))
    program_file = saved_program_file(save_dir)

    deploy = {
        MODEL_KEY: program_file,
        PARAMS_KEY: PARAMS_FILE,
        TRANSFORMS_KEY: fitted_transforms(transforms, shape),
        INPUT_SHAPE_KEY: shape,
        OUTPUT_OP_KEY: output_op,
        OUTPUT_DTYPE_KEY: "int32" if output_op == "argmax" else "float32",
    }
    if onnx:
        convert_to_onnx(os.path.join(save_dir, program_file), os.path.join(save_dir, PARAMS_FILE),
                        os.path.join(save_dir, ONNX_FILE))
        deploy[ONNX_KEY] = ONNX_FILE
    if slide:
        deploy[SLIDE_KEY] = slide
    if palette:
        deploy[PALETTE_KEY] = [list(colour) for colour in palette]
    if class_names:
        deploy[CLASS_NAMES_KEY] = list(class_names)
    return ExportedModel(save_dir, deploy).write()


def saved_program_file(save_dir):
    """The program file ``paddle.jit.save`` wrote: ``model.json`` on PIR, else ``model.pdmodel``."""
    for name in PROGRAM_FILES:
        if os.path.isfile(os.path.join(save_dir, name)):
            return name
    raise ExportError(f"paddle.jit.save wrote none of {PROGRAM_FILES} in {save_dir}")

