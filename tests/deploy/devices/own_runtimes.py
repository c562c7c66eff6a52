"""The device files run by their own Python runtimes (``ncnn``, ``ai_edge_litert``), without the
plugin: what a device app does, for the tests to compare the plugin's backends and export checks with."""
import numpy as np
import onnxruntime

from paddleseg_liteseg.deploy.exporting.device_files import device_files

MIN_AGREEMENT = {"fp32": 0.999, "fp16": 0.99}  # int8 is reported, not held to a bar
FILES = [("ncnn", "fp32"), ("ncnn", "fp16"), ("tflite", "fp32"), ("tflite", "fp16"), ("tflite", "int8")]


def own_runtime_logits(model, format, precision, image):
    """(C, H, W) logits of one preprocessed (C, H, W) image, run by the format's own Python runtime."""
    file = next(file for file in device_files(model) if (file.format, file.precision) == (format, precision))
    if format == "ncnn":
        import ncnn

        net = ncnn.Net()
        net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = precision == "fp16"
        assert net.load_param(model.file(file.files[0])) == 0 and net.load_model(model.file(file.files[1])) == 0
        image = np.ascontiguousarray(image)
        extractor = net.create_extractor()
        extractor.input(file.input_name, ncnn.Mat(image))
        return np.array(extractor.extract(file.output_name)[1])
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=model.file(file.files[0]))
    interpreter.allocate_tensors()
    tensor_in, tensor_out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    batch = image.transpose(1, 2, 0)[np.newaxis]
    if tensor_in["dtype"] == np.int8:
        scale, zero_point = tensor_in["quantization"]
        batch = np.clip(np.round(batch / scale + zero_point), -128, 127)
    interpreter.set_tensor(tensor_in["index"], batch.astype(tensor_in["dtype"]))
    interpreter.invoke()
    output = interpreter.get_tensor(tensor_out["index"]).astype("float32")
    if tensor_out["dtype"] == np.int8:
        scale, zero_point = tensor_out["quantization"]
        output = (output - zero_point) * scale
    return output[0].transpose(2, 0, 1)


def onnxruntime_labels(model, images):
    session = onnxruntime.InferenceSession(model.file("model.onnx"), providers=["CPUExecutionProvider"])
    return [session.run(None, {"x": image[np.newaxis]})[0][0] for image in images]


def agreement(model, format, precision, images):
    expected = onnxruntime_labels(model, images)
    shares = [(own_runtime_logits(model, format, precision, image).argmax(0) == labels).mean()
              for image, labels in zip(images, expected)]
    return float(np.mean(shares))
