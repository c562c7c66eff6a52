"""Layers put back to fp32 in a quantized model: they read the fp32 model's weights and
activations, the quantizers' nodes nothing reads any more are gone, the rest stays int8."""
import numpy as np
import pytest

from paddleseg_liteseg.deploy.int8.fp32_layers import keep_fp32
from paddleseg_liteseg.deploy.int8.quantize import fold_batch_norms, quantize_nncf, quantize_onnx
from paddleseg_liteseg.errors import UserError

onnx = pytest.importorskip("onnx", reason="needs the [onnx] extra")
onnxruntime = pytest.importorskip("onnxruntime", reason="needs the [onnx] extra")


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """conv -> relu -> conv -> relu -> add (of both relus) -> conv, random weights, and 4 images.
    One weight is an unnamed Constant node's value, as paddle2onnx writes some."""
    from onnx import TensorProto, helper, numpy_helper

    generator = np.random.default_rng(0)
    weights = [numpy_helper.from_array(generator.normal(size=shape).astype("float32"), name)
               for name, shape in (("w1", (8, 3, 3, 3)), ("w2", (8, 8, 3, 3)), ("w3", (4, 8, 1, 1)))]
    nodes = [helper.make_node("Constant", [], ["w2"], value=weights.pop(1)),
             helper.make_node("Conv", ["x", "w1"], ["a"], name="conv1", pads=[1] * 4),
             helper.make_node("Relu", ["a"], ["b"], name="relu1"),
             helper.make_node("Conv", ["b", "w2"], ["c"], name="conv2", pads=[1] * 4),
             helper.make_node("Relu", ["c"], ["d"], name="relu2"),
             helper.make_node("Add", ["d", "b"], ["e"], name="add"),
             helper.make_node("Conv", ["e", "w3"], ["y"], name="conv3")]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16, 16])], weights)
    path = tmp_path_factory.mktemp("small") / "model.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    images = [generator.random((3, 16, 16), dtype=np.float32) for _ in range(4)]
    return str(path), images


def _run(path, image):
    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": image[None]})[0]


def _node_inputs(path, name):
    """What node ``name`` of model ``path`` reads: an initializer's values, else the tensor's name."""
    graph = onnx.load(path).graph
    values = {tensor.name: onnx.numpy_helper.to_array(tensor).tolist() for tensor in graph.initializer}
    return [values.get(tensor, tensor) for tensor in next(node for node in graph.node if node.name == name).input]


def _dequantized_readers(path):
    graph = onnx.load(path).graph
    dequantized = {node.output[0] for node in graph.node if node.op_type == "DequantizeLinear"}
    return {node.name for node in graph.node if dequantized & set(node.input)}


@pytest.mark.parametrize("quantizer", ["onnxruntime", "nncf"])
def test_layers_put_back_read_fp32_and_the_rest_stay_int8(small_model, tmp_path, quantizer):
    if quantizer == "nncf":
        pytest.importorskip("nncf", reason="needs the [openvino] extra")
    onnx_file, images = small_model
    source = onnx_file if quantizer == "nncf" else fold_batch_norms(onnx_file, str(tmp_path / "folded.onnx"))
    int8 = str(tmp_path / "int8.onnx")
    if quantizer == "nncf":
        quantize_nncf(source, int8, images, reduce_range=False)
    else:
        quantize_onnx(source, int8, images, reduce_range=False)
    quantized = _dequantized_readers(int8)
    assert {"conv2", "add"} <= quantized

    one = keep_fp32(int8, source, ["conv2"], str(tmp_path / "one.onnx"))
    onnx.checker.check_model(onnx.load(one))
    assert _dequantized_readers(one) == quantized - {"conv2"}
    assert _node_inputs(one, "conv2") == _node_inputs(source, "conv2")  # the fp32 activation and weights

    every = keep_fp32(int8, source, sorted(quantized), str(tmp_path / "every.onnx"))
    graph = onnx.load(every).graph
    left = [node for node in graph.node if node.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert [node.op_type for node in left] in ([], ["QuantizeLinear", "DequantizeLinear"])
    output_step = 1e-4  # onnxruntime's every-operator recipe also quantizes the model's output: one step off
    if left:
        assert left[1].output[0] == graph.output[0].name
        scale = next(tensor for tensor in graph.initializer if tensor.name == left[0].input[1])
        output_step = float(onnx.numpy_helper.to_array(scale))
    for image in images:
        np.testing.assert_allclose(_run(every, image), _run(onnx_file, image), rtol=1e-4, atol=output_step)
        assert not np.allclose(_run(int8, image), _run(onnx_file, image), rtol=1e-4, atol=1e-4)


def test_an_unknown_layer_is_named_with_the_files(small_model, tmp_path):
    onnx_file, images = small_model
    folded = fold_batch_norms(onnx_file, str(tmp_path / "folded.onnx"))
    int8 = quantize_onnx(folded, str(tmp_path / "int8.onnx"), images)
    with pytest.raises(UserError, match=r"no node named 'conv9' in both .*int8.onnx and .*folded.onnx"):
        keep_fp32(int8, folded, ["conv9"], str(tmp_path / "out.onnx"))
    assert not (tmp_path / "out.onnx").exists()


def test_a_graph_the_quantizer_rewrote_is_refused(small_model, tmp_path):
    """onnxruntime's default folds each ReLU into its activation range, so the tensor a layer
    reads is no longer the fp32 model's: putting that layer back would skip the ReLU."""
    from onnxruntime import quantization

    onnx_file, images = small_model

    class Images(quantization.CalibrationDataReader):
        def __init__(self):
            self.images = iter(images)

        def get_next(self):
            image = next(self.images, None)
            return None if image is None else {"x": image[None]}

    int8 = str(tmp_path / "relu_folded.onnx")
    quantization.quantize_static(onnx_file, int8, Images(), quant_format=quantization.QuantFormat.QDQ)
    with pytest.raises(UserError, match=r"computes 'b' with node 'conv1', not 'relu1' .*rewrote the graph"):
        keep_fp32(int8, onnx_file, ["conv2"], str(tmp_path / "out.onnx"))
