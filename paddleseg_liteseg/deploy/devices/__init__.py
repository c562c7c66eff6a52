"""Files for devices: the exported ONNX model converted to NCNN and TFLite, each checked against onnxruntime fp32."""
