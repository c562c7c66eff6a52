"""What ``paddleseg export`` writes and how it is read back: the Paddle model, ``deploy.yaml``, ONNX, a fixed input shape."""
