"""Keep layers of an int8 QDQ model in fp32 without quantizing it again: each named node reads
what it reads in the fp32 model it was quantized from (its fp32 weights and bias, the activations
before their QuantizeLinear), and the quantize/dequantize nodes no other node reads are dropped.

This is what the quantizers' own exclusion lists (NNCF's ``ignored_scope``, onnxruntime's
``nodes_to_exclude``) give, less a calibration: the other layers keep the activation ranges
measured with every layer quantized (as NNCF's ``quantize_with_accuracy_control`` keeps them when
it reverts layers), so an accuracy search can try many sets of fp32 layers in seconds each.
"""
from ...errors import UserError
from ..exporting.onnx_conversion import drop_unused_initializers


def keep_fp32(int8_file, fp32_file, layers, output_file):
    """Write ``int8_file`` with the nodes named in ``layers`` run in fp32 to ``output_file``.

    Args:
        int8_file (str): A QDQ model quantized from ``fp32_file`` (node and activation names as
            there: NNCF's and onnxruntime's quantizers keep them).
        fp32_file (str): The model it was quantized from (for onnxruntime's recipes, the model
            with batch norms folded that they quantize).
        layers (list[str]): Names of nodes of both models.
    Returns:
        str: ``output_file``.
    """
    import onnx  # the [onnx] extra: export without --int8 runs without it

    model = onnx.load(int8_file)
    layers = list(layers)
    if layers:
        fp32_graph = onnx.load(fp32_file).graph
        _revert(model.graph, fp32_graph, layers, int8_file, fp32_file)
        _prune(model.graph)
    onnx.save(model, output_file)
    return output_file


def _revert(graph, fp32_graph, layers, int8_file, fp32_file):
    """Give each node of ``layers`` in ``graph`` its inputs in ``fp32_graph``: the same activations,
    and its fp32 constants (initializers or Constant nodes' values), under a new name where the
    quantizer changed the one of that name (NNCF's bias correction does) or computes it otherwise
    (onnxruntime dequantizes biases, NNCF names paddle2onnx's unnamed Constant nodes)."""
    nodes = {node.name: node for node in graph.node}
    fp32_nodes = {node.name: node for node in fp32_graph.node}
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    constants, fp32_constants = _constants(graph), _constants(fp32_graph)
    producers = {output: node.name for node in graph.node for output in node.output}
    fp32_producers = {output: node.name for node in fp32_graph.node for output in node.output}
    for name in layers:
        if name not in nodes or name not in fp32_nodes:
            raise UserError(f"no node named {name!r} in both {int8_file} and {fp32_file}")
        inputs = []
        for tensor in fp32_nodes[name].input:
            if tensor in fp32_constants:
                if constants.get(tensor) != fp32_constants[tensor]:
                    tensor = _add_initializer(graph, initializers, fp32_constants[tensor], f"{tensor}_fp32")
            elif producers.get(tensor) != fp32_producers.get(tensor):
                raise UserError(f"{int8_file} computes {tensor!r} with node {producers.get(tensor)!r}, not "
                                f"{fp32_producers.get(tensor)!r} as {fp32_file} does: the quantizer rewrote the graph")
            inputs.append(tensor)
        del nodes[name].input[:]
        nodes[name].input.extend(inputs)


def _constants(graph):
    """{name: TensorProto} of ``graph``'s initializers and Constant nodes' tensor values."""
    constants = {tensor.name: tensor for tensor in graph.initializer}
    for node in graph.node:
        value = next((attribute.t for attribute in node.attribute if attribute.name == "value"), None)
        if node.op_type == "Constant" and value is not None:
            constants[node.output[0]] = _named(value, node.output[0])
    return constants


def _named(tensor, name):
    """A copy of ``tensor`` named ``name`` (a Constant node's value carries no name of its own)."""
    copy = type(tensor)()
    copy.CopyFrom(tensor)
    copy.name = name
    return copy


def _add_initializer(graph, initializers, tensor, name):
    """Add a copy of ``tensor`` named ``name`` to ``graph`` (once); returns the name."""
    if name not in initializers:
        graph.initializer.append(_named(tensor, name))
        initializers[name] = graph.initializer[-1]
    return name


def _prune(graph):
    """Drop the nodes and initializers nothing reads (the quantize/dequantize pairs left unused)."""
    outputs = {value.name for value in graph.output}
    while True:
        read = outputs | {tensor for node in graph.node for tensor in node.input}
        unused = [node for node in graph.node if not read & set(node.output)]
        if not unused:
            break
        for node in unused:
            graph.node.remove(node)
    drop_unused_initializers(graph)
