"""Can Paddle's quantization-aware training (QAT) reach the int8 runtimes? A check, step by step.

    python benchmarks/qat_export.py

PaddleSeg's own recipe for a PP-LiteSeg that keeps its mIoU in int8 is QAT. This trains
PP-LiteSeg-T (random weights, random images: only whether it exports is asked) for a few steps
with ``paddle.quantization.QAT``, converts the fake-quantized model to quantize/dequantize ops
(``QAT.convert``), saves it with ``paddle.jit.save`` and converts that to ONNX with paddle2onnx,
as ``paddleseg export`` does, and prints each step's outcome, the installed versions and a
verdict. ``QAT.convert`` with Paddle's abs-max quanter passes no zero point (``None``) to the
quantize layers, which cannot take one; the check gives them zeros (symmetric int8 is zero) to
go on. A network of two convolutions, with static shapes throughout, shows whether paddle2onnx
takes the converted ops where ``paddle.jit.save`` does.
"""
import importlib.metadata
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))


def zeros(quanter):
    """Zero points for Paddle's abs-max quanter, which gives None."""
    import paddle

    return paddle.zeros_like(quanter.scales())


def try_export(name, model, shape):
    """QAT-train ``model`` a few steps on random images of ``shape``, convert, save and export it to
    ONNX, printing each step; returns whether an ONNX model came out."""
    import paddle
    from paddle.quantization import QAT, QuantConfig
    from paddle.quantization.quanters import FakeQuanterWithAbsMaxObserver
    from paddle.quantization.quanters.abs_max import FakeQuanterWithAbsMaxObserverLayer

    from paddleseg_liteseg.deploy.exporting.onnx_conversion import convert_to_onnx
    from paddleseg_liteseg.errors import UserError

    quanter = FakeQuanterWithAbsMaxObserver(moving_rate=0.9)
    qat = QAT(QuantConfig(activation=quanter, weight=quanter))
    model = qat.quantize(model, inplace=True)
    optimizer = paddle.optimizer.SGD(parameters=model.parameters())
    images = paddle.to_tensor(np.random.default_rng(0).random(shape, dtype=np.float32))
    for _ in range(3):
        outputs = model(images)
        loss = sum(output.mean() for output in (outputs if isinstance(outputs, list) else [outputs]))
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
    model.eval()
    print(f"{name}: QAT training steps: ran")
    try:
        converted = qat.convert(model)
        given = " (with the zero points given above)" if FakeQuanterWithAbsMaxObserverLayer.zero_points is zeros else ""
        print(f"{name}: QAT.convert: ran{given}")
    except TypeError as error:
        print(f"{name}: QAT.convert: fails: TypeError: {error}")
        FakeQuanterWithAbsMaxObserverLayer.zero_points = zeros
        converted = qat.convert(model)
        print(f"{name}: QAT.convert with zero points given: ran")
    with tempfile.TemporaryDirectory() as work:
        prefix = str(Path(work) / "model")
        try:
            paddle.jit.save(converted, prefix, input_spec=[paddle.static.InputSpec([1, *shape[1:]], "float32", "x")])
        except ValueError as error:
            reason = next((line.strip() for line in str(error).splitlines() if "InvalidArgument" in line), error)
            print(f"{name}: paddle.jit.save: fails: {reason}")
            return False
        print(f"{name}: paddle.jit.save: ran")
        try:
            convert_to_onnx(prefix + ".json", prefix + ".pdiparams", str(Path(work) / "model.onnx"))
        except UserError as error:
            print(f"{name}: paddle2onnx: fails: {error}")
            return False
    print(f"{name}: paddle2onnx: ran")
    return True


def two_convolutions():
    """A network with static shapes throughout: whether paddle2onnx takes QAT's ops at all."""
    import paddle.nn as nn

    return nn.Sequential(nn.Conv2D(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2D(8, 4, 3, padding=1))


def main():
    import paddle

    from reference_models import build_plugin

    versions = ", ".join(f"{name} {importlib.metadata.version(name)}" for name in ("paddlepaddle", "paddle2onnx"))
    print(f"versions: {versions}")
    paddle.seed(0)
    exported = try_export("PP-LiteSeg-T", build_plugin("T", num_classes=11), (2, 3, 128, 128))
    try_export("two convolutions", two_convolutions(), (2, 3, 32, 32))
    print("verdict: " + ("QAT exports PP-LiteSeg-T to ONNX with these versions: a QAT recipe can join export's int8"
                         if exported else "QAT does NOT reach the int8 runtimes with these versions; export's int8 "
                         "stays post-training quantization (int8_search)"))
    return 0 if exported else 1


if __name__ == "__main__":
    sys.exit(main())
