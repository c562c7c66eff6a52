"""The ONNX graph the device converters (pnnx, onnx2tf) read: ``model.onnx`` up to its logits (or
probabilities), for onnx2tf with every shape computation folded to constants and batch norms and
biases fused into the convolutions.

It starts from the fixed-shape ONNX model that export writes, and the resizes and pools there
already have constant sizes (``models.spatial_size``). What is left to fold is paddle2onnx's
bookkeeping (shape reads, identity casts, reshaped biases), and onnx2tf trips on it: it loses the
NCHW -> NHWC layout at a bias added through a reshape. onnxruntime's basic graph optimizations
(constant folding, redundant-node removal, convolution fusions) write a graph of standard ONNX
operators only, which onnx2tf converts exactly. pnnx folds the graph by itself, and converts the
unfolded one exactly. The argmax is cut off for both: NCNN cannot run pnnx's integer cast after
it, and a device takes the argmax of the logits itself.
"""
from ...errors import UserError
from ..exporting.onnx_conversion import drop_unused_initializers
from ..running.extras import missing_package

CUT_OPS = ("ArgMax", "Cast")  # the labels head export appends to the logits (output_op "argmax")


class DeviceConversionError(UserError):
    """A device format could not be written; the message names the format and what to change."""


def write_device_onnx(onnx_file, device_file, fold=True):
    """Write ``onnx_file``'s graph as the converters read it (see above) to ``device_file``: folded
    for onnx2tf, only cut at the logits for pnnx (``fold`` False)."""
    import onnx

    model = onnx.load(onnx_file)
    _without_labels_head(model.graph)
    if not fold:
        onnx.save(model, device_file)
        return
    missing = missing_package("onnxruntime", "onnx")
    if missing:
        raise DeviceConversionError(f"device formats are converted from ONNX: {missing}")
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = device_file
    options.log_severity_level = 3
    onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    optimized = onnx.load(device_file)
    used = {node.domain for node in optimized.graph.node}
    kept = [opset for opset in optimized.opset_import if opset.domain in used or opset.domain in ("", "ai.onnx")]
    del optimized.opset_import[:]
    optimized.opset_import.extend(kept)
    drop_unused_initializers(optimized.graph)
    onnx.checker.check_model(optimized)
    onnx.save(optimized, device_file)


def _without_labels_head(graph):
    """Cut the ArgMax (and its Cast) off the end of ``graph``, in place."""
    import onnx

    producers = {output: node for node in graph.node for output in node.output}
    name = graph.output[0].name
    removed = []
    while name in producers and producers[name].op_type in CUT_OPS:
        removed.append(producers[name])
        name = producers[name].input[0]
    if removed:
        for node in removed:
            graph.node.remove(node)
        del graph.output[:]
        graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))

