"""Why Paddle Inference fp32 is slower than onnxruntime fp32 here: every setting tried, timed in one run.

    python benchmarks/paddle_inference_account.py                    # PP-LiteSeg-T, 1x3x512x1024
    python benchmarks/paddle_inference_account.py --variant B --threads 1

The model is exported once (random weights: timing does not depend on values) and run by
onnxruntime fp32 (the reference), OpenVINO fp32, and Paddle Inference with each setting the
Predictor API offers for CPU: oneDNN with the plugin's pass list, oneDNN with IR optimization off,
oneDNN with a shape cache, no oneDNN (Paddle's own CPU kernels), and each at other thread counts.
All are timed in interleaved rounds (``bench.time_interleaved``). Then both Paddle with oneDNN and
onnxruntime are profiled per operator type, which shows where the time goes. Writes
``paddle_inference_account.md`` beside this script and prints it.
"""
import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import paddle

from paddleseg_liteseg import build_model
from paddleseg_liteseg.deploy import create_runtime
from paddleseg_liteseg.deploy.running.cpu_features import read_cpu_info
from paddleseg_liteseg.deploy.exporting.export import write_inference_model
from paddleseg_liteseg.deploy.exporting.exported_model import DEFAULT_TRANSFORMS
from paddleseg_liteseg.deploy.running.inference_timing import time_interleaved
from paddleseg_liteseg.deploy.exporting.model_files import MODEL_KEY, ONNX_KEY, PARAMS_KEY

HERE = Path(__file__).resolve().parent
CONFIGS = {"T": "pp_liteseg_stdc1_cityscapes_1024x512_scale0.5_160k", "B": "pp_liteseg_stdc2_cityscapes_1024x512_scale0.5_160k"}


def paddle_predictor(exported, threads, onednn=True, ir_optim=True, shape_cache=0):
    """A Paddle Inference predictor with the given CPU settings, as a batch -> labels callable."""
    import paddle.inference as inference

    config = inference.Config(exported.path(MODEL_KEY), exported.path(PARAMS_KEY))
    config.disable_gpu()
    config.disable_glog_info()
    config.set_cpu_math_library_num_threads(threads)
    config.switch_ir_optim(ir_optim)
    if onednn:
        config.enable_onednn()
        config.delete_pass("onednn_placement_pass")  # see runtimes.PaddleRuntime
        if shape_cache:
            config.set_onednn_cache_capacity(shape_cache)
    else:
        config.disable_onednn()
    predictor = inference.create_predictor(config)
    handle_in = predictor.get_input_handle(predictor.get_input_names()[0])
    handle_out = predictor.get_output_handle(predictor.get_output_names()[0])

    def run(batch):
        handle_in.reshape(batch.shape)
        handle_in.copy_from_cpu(batch)
        predictor.run()
        return handle_out.copy_to_cpu()
    return run


def onnxruntime_op_profile(exported, batch, threads, runs):
    """{op type: ms per run} from onnxruntime's own profiler."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.enable_profiling = True
    options.log_severity_level = 3
    options.profile_file_prefix = os.path.join(exported.directory, "ort_profile")
    session = onnxruntime.InferenceSession(exported.path(ONNX_KEY), options,
                                           providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for _ in range(runs + 1):  # the first is a warm-up, left out below
        session.run(None, {name: batch})
    with open(session.end_profiling()) as file:
        events = json.load(file)
    warm_up = min((event for event in events if event["name"] == "model_run"), key=lambda event: event["ts"])
    totals = collections.Counter()
    for event in events:
        if (event.get("cat") == "Node" and event["name"].endswith("_kernel_time")
                and event["ts"] > warm_up["ts"] + warm_up["dur"]):
            totals[event["args"]["op_name"]] += event["dur"] / 1000 / runs
    return totals


def paddle_op_profile(exported, batch, threads, runs):
    """{op name: ms per run} of Paddle Inference with oneDNN, from paddle.profiler's operator summary."""
    import paddle.profiler as profiler

    run = paddle_predictor(exported, threads)
    run(batch)
    with profiler.Profiler(targets=[profiler.ProfilerTarget.CPU], on_trace_ready=lambda _: None) as prof:
        for _ in range(runs):
            run(batch)
    totals = collections.Counter()
    events = prof.profiler_result.get_data()
    for tree in events.values():
        stack = [tree]
        while stack:
            node = stack.pop()
            if str(node.type) in ("TracerEventType.Operator",):
                totals[node.name] += (node.end_ns - node.start_ns) / 1e6 / runs
            stack.extend(node.children_node)
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="T", choices=list(CONFIGS))
    parser.add_argument("--shape", nargs=4, type=int, default=[1, 3, 512, 1024])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--output", default=str(HERE / "paddle_inference_account.md"))
    args = parser.parse_args()

    paddle.base.core.set_num_threads(args.threads)
    model = build_model(CONFIGS[args.variant], opts={"model.backbone.pretrained": None})
    batch = np.random.default_rng(0).standard_normal(args.shape, dtype=np.float32)
    with tempfile.TemporaryDirectory() as model_dir:
        exported = write_inference_model(model, model_dir, DEFAULT_TRANSFORMS, input_shape=args.shape, onnx=True)
        others = sorted({1, args.threads} - {args.threads})
        runners = {"onnxruntime fp32": create_runtime(exported, "onnxruntime", threads=args.threads),
                   "openvino fp32": create_runtime(exported, "openvino", threads=args.threads),
                   "paddle oneDNN (plugin default)": paddle_predictor(exported, args.threads),
                   "paddle oneDNN, IR optimization off": paddle_predictor(exported, args.threads,
                                                                          ir_optim=False),
                   "paddle oneDNN, shape cache 10": paddle_predictor(exported, args.threads, shape_cache=10),
                   "paddle without oneDNN": paddle_predictor(exported, args.threads, onednn=False)}
        for threads in others:
            runners[f"paddle oneDNN, {threads} thread(s)"] = paddle_predictor(exported, threads)
            runners[f"onnxruntime fp32, {threads} thread(s)"] = create_runtime(exported, "onnxruntime",
                                                                               threads=threads)
        reference = runners["onnxruntime fp32"](batch)
        agreement = {name: float((run(batch) == reference).mean()) for name, run in runners.items()}
        times = time_interleaved({name: (lambda run=run: run(batch)) for name, run in runners.items()},
                                 args.repeats, warmup=2)
        medians = {name: 1000 * statistics.median(values) for name, values in times.items()}
        ort_ops = onnxruntime_op_profile(exported, batch, args.threads, 3)
        paddle_ops = paddle_op_profile(exported, batch, args.threads, 3)

    cpu = read_cpu_info()
    base = medians["onnxruntime fp32"]
    lines = ["# Paddle Inference fp32 against onnxruntime fp32", "",
             f"Generated by `python benchmarks/paddle_inference_account.py --variant {args.variant}` "
             f"on {cpu.model} ({' '.join(sorted(f for f in cpu.flags if f.startswith(('avx512_bf16', 'amx', 'avx512_vnni', 'avx2'))))}), "
             f"PP-LiteSeg-{args.variant}, input {'x'.join(map(str, args.shape))}, {args.threads} threads unless "
             f"said, Paddle {paddle.__version__}; median of {args.repeats} interleaved rounds.", "",
             "| runtime and setting | median ms | / onnxruntime fp32 | labels equal to onnxruntime's |",
             "|---|---|---|---|"]
    lines += [f"| {name} | {ms:.1f} | {ms / base:.2f} | {agreement[name]:.5f} |"
              for name, ms in sorted(medians.items(), key=lambda item: item[1])]
    lines += ["", "Time per operator type (ms per run, the profilers' own accounting, top 12):", "",
              "| onnxruntime op | ms | Paddle (oneDNN) op | ms |", "|---|---|---|---|"]
    ort_top, paddle_top = ort_ops.most_common(12), paddle_ops.most_common(12)
    for index in range(max(len(ort_top), len(paddle_top))):
        left = ort_top[index] if index < len(ort_top) else ("", None)
        right = paddle_top[index] if index < len(paddle_top) else ("", None)
        lines.append(f"| {left[0]} | {'' if left[1] is None else f'{left[1]:.1f}'} | {right[0]} | "
                     f"{'' if right[1] is None else f'{right[1]:.1f}'} |")
    lines.append(f"\nTotals: onnxruntime {sum(ort_ops.values()):.1f} ms, Paddle {sum(paddle_ops.values()):.1f} ms.")
    Path(args.output).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
