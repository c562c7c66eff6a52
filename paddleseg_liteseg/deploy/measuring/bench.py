"""Latency of a model on every runtime, interleaved, against the machine's GEMM rate.

Protocol (CPU, this repository): batch 1, one fixed input shape, random input (timing does not
depend on values), the exported model including its output argmax, pre- and post-processing
excluded. One row per runtime and precision (fp32, bf16 where the CPU has it, int8 with
calibration images); a runtime that is not installed or cannot run a precision is a "skipped"
line, any other failure stops the benchmark. Each row's agreement with fp32 is the share of
pixels whose label equals the dygraph model's, on real images (a dataset's, resized to the input
shape): random input says nothing about it. Every runtime is warmed up, then timed in rounds:
each round runs every runtime once, in an order rotated per round, so drift of a shared machine
(other jobs, clocks) hits all alike.
Median and 90th percentile are reported.

The paper's protocol (section 4.2): an NVIDIA GTX 1080Ti, the model exported to ONNX and run by
TensorRT, batch 1, fp32, inputs 1x3x512x1024 and 1x3x768x1536, model compute only. On a GPU the
``onnxruntime`` runtime uses TensorRT (then CUDA) providers when installed, which is that route.

FLOPs are paddle.flops' multiply-accumulates (MACs) x 2. Achieved GFLOP/s divided by the fp32
GEMM rate measured here with the same thread count (the better of a measurement before and one
after the timed rounds) says how close a runtime gets to the machine; divided by the GEMM rate of
the same backend at the same precision (``gemm_rates``), how close it gets to its own kernels.
"""
import contextlib
import copy
import dataclasses
import io
import json
import os
import statistics
import tempfile

import cv2
import numpy as np
import paddle

from ...errors import UserError
from ..int8.agreement import pixel_agreement
from ..exporting.export import write_inference_model
from ..exporting.exported_model import DEFAULT_TRANSFORMS
from .gemm_rates import GEMM_SIZE, gemm_gflops, runtime_gemm_rates
from ..running.inference_timing import time_interleaved
from ..int8.int8_choice import write_int8_models
from .reference import official_twin, same_function
from ..devices.device_check import CheckImages
from ..devices.device_export import write_device_models
from ..running.device_runtimes import DEVICE_BACKENDS
from ..running.runtime_id import RuntimeId
from ..running.runtimes import BackendUnavailable, create_runtime, default_threads, missing_package

RUNTIMES = ("dygraph", "paddle", "onnxruntime", "openvino")  # "all"; the device files' runtimes when named
ONNX_RUNTIMES = ("onnxruntime", "openvino", *DEVICE_BACKENDS)


@dataclasses.dataclass(frozen=True)
class BenchRow:
    """One model on one runtime: its times (median and 90th percentile ms over ``runs``), FPS, the
    GFLOP/s achieved and their share of the machine's fp32 GEMM rate. Where measured: the share of
    its own backend's GEMM rate at its precision, its agreement with the dygraph model's labels, and
    its median over the reference model's on the same runtime (``vs_reference``)."""

    model: str
    runtime: RuntimeId
    input_shape: list
    median_ms: float
    p90_ms: float
    fps: float
    gflops_per_s: float
    fraction_of_gemm: float
    runs: int
    own_gemm_gflops: float | None = None
    fraction_of_own_gemm: float | None = None
    agreement: float | None = None
    vs_reference: float | None = None

    def to_dict(self):
        """The row as the JSON holds it: the runtime in words, fields not measured left out."""
        fields = dict(dataclasses.asdict(self), runtime=str(self.runtime))
        return {name: value for name, value in fields.items() if value is not None}


@dataclasses.dataclass(frozen=True)
class BenchResult:
    """What ``benchmark`` measured: ``machine`` (device, threads, gemm_gflops), ``models`` ({name:
    {"params", "gflops"}}), a ``BenchRow`` per model and runtime, and ``skipped`` ({runtime: why})."""

    machine: dict
    models: dict
    rows: list
    skipped: dict

    def to_dict(self):
        return {"machine": self.machine, "models": self.models, "rows": [row.to_dict() for row in self.rows],
                "skipped": self.skipped}


def complexity(model, input_shape):
    """(trainable parameters, GFLOPs) of ``model`` at ``input_shape``; FLOPs = 2 x paddle.flops' MACs.

    Frozen parameters (PaddleSeg's constant UAFM ``_scale``) are not counted, so both
    implementations of PP-LiteSeg count the same.
    """
    params = sum(int(np.prod(p.shape)) for p in model.parameters() if not p.stop_gradient)
    probe = copy.deepcopy(model)  # paddle.flops leaves counters on the model it measures
    with contextlib.redirect_stdout(io.StringIO()):  # and prints a line per layer type
        macs = paddle.flops(probe, list(input_shape), print_detail=False)
    return params, 2 * macs / 1e9


def _resized(image, height, width):
    """A (C, H', W') image resized to (C, height, width): the fixed shape of the timed models."""
    return cv2.resize(image.transpose(1, 2, 0), (width, height)).transpose(2, 0, 1)


class DygraphRuntime:
    """The model in Paddle's eager mode, as trained: the baseline every deployment should beat."""

    name = "dygraph"

    def __init__(self, model):
        self.model = model

    def __call__(self, batch):
        with paddle.no_grad():
            return paddle.argmax(self.model(paddle.to_tensor(batch))[0], axis=1).numpy()


def build_runtimes(model, exported, names, threads, int8, device="cpu"):
    """{RuntimeId: runtime} of ``model`` (dygraph) and ``exported`` (an ExportedModel) for the
    requested runtime names, one per backend x precision (and Paddle Inference with oneDNN off),
    and {RuntimeId: why skipped} for those that cannot run here.

    Only ``BackendUnavailable`` (not installed, no such precision on this backend or CPU) skips a
    runtime; any other error is raised, so a broken backend fails the benchmark.
    """
    runtimes, skipped = {}, {}
    for name in names:
        if name == "dygraph":
            runtimes[RuntimeId("dygraph", "fp32")] = DygraphRuntime(model)
            continue
        half = "fp16" if device == "gpu" or name in DEVICE_BACKENDS else "bf16"  # device files: fp16 weights
        variants = [(RuntimeId(name, precision), {}) for precision in ["fp32", half] + (["int8"] if int8 else [])]
        if name == "paddle" and device == "cpu":
            variants.insert(1, (RuntimeId(name, "fp32", "oneDNN off"), {"onednn": False}))
        for runtime_id, options in variants:
            try:
                runtimes[runtime_id] = create_runtime(exported, name, device, runtime_id.precision, threads, **options)
            except BackendUnavailable as reason:
                skipped[runtime_id] = str(reason)
    return runtimes, skipped


def benchmark(model, input_shape=(1, 3, 512, 1024), runtimes=RUNTIMES, reference=False,
              threads=None, repeats=20, warmup=3, calibration_images=None, work_dir=None,
              device="cpu", agreement_images=None):
    """Time ``model`` (and with ``reference`` PaddleSeg's PPLiteSeg with its weights) on ``runtimes``.

    Args:
        model (nn.Layer): The model, weights loaded.
        input_shape (tuple): N C H W, fixed for the exported models.
        runtimes (tuple[str]): Names from ``RUNTIMES``, or "ncnn" and "tflite": the model's device
            files, converted and checked first (``devices.device_export``).
        reference (bool): Also time PaddleSeg's ``PPLiteSeg`` with the same weights and runtimes.
        threads (int): CPU threads for every runtime and the GEMM measurement.
        calibration_images (list[np.ndarray], optional): Preprocessed images; when given, int8
            models are quantized with them and timed too.
        device (str): "cpu", or "gpu" for the paper's route (onnxruntime with TensorRT).
        agreement_images (list[np.ndarray], optional): Preprocessed dataset images; each row's
            ``agreement`` is its share of labels equal to the dygraph model's on them.
    Returns:
        BenchResult
    """
    threads = threads or default_threads()
    paddle.set_device(device)
    paddle.base.core.set_num_threads(threads)
    model.eval()
    models = {"plugin": model}
    if reference:
        models["reference"] = official_twin(model)
        if not same_function(model, models["reference"]):
            raise RuntimeError("PPLiteSeg twin does not reproduce the model's logits")
    all_runtimes, skipped, info, agreements = {}, {}, {}, {}
    onnx_needed = any(name in ONNX_RUNTIMES for name in runtimes)
    no_converter = onnx_needed and missing_package("paddle2onnx", "onnx")
    if no_converter:
        skipped.update({RuntimeId(name, "fp32"): no_converter for name in runtimes if name in ONNX_RUNTIMES})
        runtimes, onnx_needed = [name for name in runtimes if name not in ONNX_RUNTIMES], False
    exported = tempfile.TemporaryDirectory(dir=work_dir)
    for model_name, layer in models.items():
        model_dir = os.path.join(exported.name, model_name)
        exported_model = write_inference_model(layer, model_dir, DEFAULT_TRANSFORMS, input_shape=input_shape,
                                               onnx=onnx_needed)
        resized_calibration = [_resized(image, *input_shape[2:]) for image in calibration_images or []]
        if onnx_needed and calibration_images:
            exported_model = write_int8_models(exported_model, resized_calibration)
        formats = [name for name in runtimes if name in DEVICE_BACKENDS]
        if formats:
            if not (agreement_images or calibration_images):
                raise UserError(f"{' and '.join(formats)}: the device files are checked on images, and none were "
                                "given", argument="agreement_images")
            checked = [_resized(image, *input_shape[2:]) for image in agreement_images or calibration_images or []]
            check = CheckImages(checked, [f"image {index}" for index in range(len(checked))])
            exported_model = write_device_models(exported_model, formats, resized_calibration or checked,
                                                 check, int8=bool(calibration_images))
        built, missing = build_runtimes(layer, exported_model, runtimes, threads,
                                        int8=bool(calibration_images), device=device)
        all_runtimes.update({(model_name, label): runtime for label, runtime in built.items()})
        if agreement_images:
            inputs = [_resized(image, *input_shape[2:])[np.newaxis] for image in agreement_images]
            reference_labels = [DygraphRuntime(layer)(batch) for batch in inputs]
            for runtime_id, runtime in built.items():
                agreements[(model_name, runtime_id)] = pixel_agreement([runtime(batch) for batch in inputs],
                                                                       reference_labels)
        skipped.update(missing)
        params, gflops = complexity(layer, input_shape)
        info[model_name] = {"params": params, "gflops": round(gflops, 3)}

    batch = np.random.default_rng(0).standard_normal(input_shape, dtype=np.float32)
    gemm_before = gemm_gflops(threads, device=device)
    times = time_interleaved({key: (lambda runtime=runtime: runtime(batch))
                              for key, runtime in all_runtimes.items()}, repeats, warmup)
    gemm = max(gemm_before, gemm_gflops(threads, device=device))  # the machine's best, before or after
    own_gemm = runtime_gemm_rates({runtime_id for _, runtime_id in all_runtimes}, threads, work_dir=work_dir) \
        if device == "cpu" else {}
    rows = []
    for (model_name, runtime_id), run_seconds in times.items():
        median = statistics.median(run_seconds)
        achieved = info[model_name]["gflops"] / median
        rows.append(BenchRow(
            model_name, runtime_id, list(input_shape), median_ms=round(1000 * median, 2),
            p90_ms=round(1000 * float(np.percentile(run_seconds, 90)), 2), fps=round(input_shape[0] / median, 2),
            gflops_per_s=round(achieved, 1), fraction_of_gemm=round(achieved / gemm, 3), runs=len(run_seconds),
            own_gemm_gflops=round(own_gemm[runtime_id], 1) if runtime_id in own_gemm else None,
            fraction_of_own_gemm=round(achieved / own_gemm[runtime_id], 3) if runtime_id in own_gemm else None,
            agreement=round(agreements[(model_name, runtime_id)], 5) if agreements else None))
    if reference:
        medians = {(row.model, row.runtime): row.median_ms for row in rows}
        rows = [dataclasses.replace(row, vs_reference=_ratio(row.median_ms, medians.get(("reference", row.runtime))))
                for row in rows]
    exported.cleanup()
    return BenchResult({"device": device, "threads": threads, "gemm_gflops": round(gemm, 1)}, info, rows,
                       {str(runtime_id): why for runtime_id, why in skipped.items()})


def _ratio(median_ms, baseline_ms):
    """``median_ms`` over the reference model's ``baseline_ms`` (None where it has none)."""
    return round(median_ms / baseline_ms, 3) if baseline_ms else None


COLUMNS = [("model", "model"), ("runtime", "runtime"), ("median_ms", "median ms"),
           ("p90_ms", "p90 ms"), ("fps", "FPS"), ("gflops_per_s", "GFLOP/s"),
           ("fraction_of_gemm", "of fp32 GEMM"), ("own_gemm_gflops", "its GEMM GFLOP/s"),
           ("fraction_of_own_gemm", "of its GEMM"), ("agreement", "agreement with fp32"),
           ("vs_reference", "vs reference")]


def format_table(result):
    """A ``BenchResult`` as a Markdown table (a column for each field some row has), with the
    machine's GEMM rate and model sizes above it."""
    machine = result.machine
    where = "GPU" if machine["device"] == "gpu" else f"{machine['threads']} threads"
    lines = [f"fp32 GEMM ({GEMM_SIZE}x{GEMM_SIZE}, {where}): {machine['gemm_gflops']} GFLOP/s"]
    lines += [f"{name}: {values['params'] / 1e6:.2f} M params, {values['gflops']} GFLOPs"
              for name, values in result.models.items()]
    rows = [row.to_dict() for row in result.rows]
    columns = [(key, title) for key, title in COLUMNS
               if any(key in row for row in rows)]
    lines.append("")
    lines.append("| " + " | ".join(title for _, title in columns) + " |")
    lines.append("|" + "---|" * len(columns))
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(key)) for key, _ in columns) + " |")
    lines += [f"skipped {name}: {reason}" for name, reason in result.skipped.items()]
    return "\n".join(lines)


def _cell(value):
    return "-" if value is None else str(value)


def write_json(result, path):
    """Write a ``BenchResult`` to ``path`` as JSON (``BenchResult.to_dict``)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as file:
        json.dump(result.to_dict(), file, indent=2)
