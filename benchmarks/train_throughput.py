"""Training-step throughput of PP-LiteSeg-T and -B: the plugin as ``paddleseg train`` runs it, against
PaddleSeg's own ``PPLiteSeg`` under PaddleSeg's defaults, both holding the same weights.

A step is what PaddleSeg's trainer does per iteration: forward in training mode, the shipped
Cityscapes config's losses (OHEM on each of the three heads), backward and the config's
SGD-momentum update, on a random batch (about 5% of its pixels ignored).

* plugin: ``LiteSeg`` with the losses the config builds when the plugin is loaded, and the CPU
  settings ``paddleseg train`` makes (``cpu_settings.apply_training_settings``: intra-op threads,
  MKL's AVX2 kernels on AMD CPUs);
* reference: PaddleSeg's ``PPLiteSeg`` with PaddleSeg's ``OhemCrossEntropyLoss`` (the copy in
  ``tests/reference_models.py``, with the one cast Paddle 3 needs) and Paddle's defaults (one
  intra-op thread, MKL as it dispatches).

Each side runs in its own process (MKL's kernel choice is per process, made at its first call);
the parent has them take steps in turn, in rounds with a rotating order, so a busy machine slows
both alike; medians are reported. GFLOP/s counts a step as 3x the inference forward's FLOPs
(paddle.flops' MACs x 2; the backward computes two products per forward one), beside numpy's
fp32 GEMM rate. One step of each side is profiled per operator (``paddle.profiler``) at the
target's size and the largest. With ``--alternatives`` the settings investigated for the plugin
(oneDNN, to_static in full-graph mode, bf16 autocast, each launch setting alone, NHWC
convolutions) are timed beside them.
The tables replace the "Training throughput" section of results.md; the rest of that file
(``run_benchmarks.py``'s) is kept.

    python benchmarks/train_throughput.py [--shapes 8x3x64x128 4x3x240x320] [--large] [--rounds 5]
                                          [--alternatives] [--no-write]
"""
import argparse
import contextlib
import io
import multiprocessing
import os
import sys
from pathlib import Path

import numpy as np
import paddle
import paddle.profiler as profiler
from paddle.profiler.profiler_statistic import StatisticData
from paddleseg.cvlibs import Config, SegBuilder
from paddleseg.models import PPLiteSeg
from paddleseg.models import losses as paddleseg_losses
from paddleseg.models.backbones import STDC1, STDC2

import paddleseg_liteseg  # noqa: F401  (registers LiteSeg, installs the plugin's loss)
from report_sections import replace_section
from paddleseg_liteseg.cpu_settings import USER_VARIABLE, set_threads, training_threads, use_mkl_avx2_kernels
from paddleseg_liteseg.deploy.measuring.bench import complexity
from paddleseg_liteseg.deploy.running.cpu_features import bf16_flags, read_cpu_info
from paddleseg_liteseg.deploy.measuring.gemm_rates import gemm_gflops
from paddleseg_liteseg.deploy.running.inference_timing import seconds
from paddleseg_liteseg.weights.layouts import convert_to_official

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from reference_models import PaddleSegOhemCrossEntropyLoss  # noqa: E402
RESULTS = HERE / "results.md"
SECTION = "## Training throughput"
CONFIGS = {
    "T": "configs/cityscapes/pp_liteseg_stdc1_cityscapes_1024x512_scale0.5_160k.yml",
    "B": "configs/cityscapes/pp_liteseg_stdc2_cityscapes_1024x512_scale0.5_160k.yml",
}
# PaddleSeg's PPLiteSeg arguments matching the configs' LiteSeg (PaddleSeg's configs/pp_liteseg).
REFERENCE_ARGUMENTS = {
    "T": dict(backbone=STDC1, arm_out_chs=[32, 64, 128], seg_head_inter_chs=[32, 64, 64]),
    "B": dict(backbone=STDC2, arm_out_chs=[64, 96, 128], seg_head_inter_chs=[64, 64, 64]),
}
DEFAULT_SHAPES = ("8x3x64x128", "4x3x240x320")  # the toy config's batch and crop; the profiled step
LARGE_SHAPE = "2x3x512x1024"  # the Cityscapes configs' crop
TARGET = ("T", (4, 3, 240, 320), 0.5)  # variant, shape, plugin / reference step time at most
PROFILE_ROWS = 15
IGNORE_INDEX = 255


# How each side's process is set up: which model and losses, which CPU settings, what else.
SIDES = {
    "plugin": dict(model="plugin", cpu="train"),
    "reference": dict(model="reference", cpu="paddle"),
}
# Settings investigated for the plugin (timed beside the two sides at the target's shape with --alternatives).
ALTERNATIVES = {
    "plugin, Paddle's default threads and MKL kernels": dict(model="plugin", cpu="paddle"),
    "plugin, threads only (MKL's default kernels)": dict(model="plugin", cpu="threads"),
    "plugin + FLAGS_use_mkldnn": dict(model="plugin", cpu="train", flags={"FLAGS_use_mkldnn": True}),
    "plugin, paddle.jit.to_static (full graph)": dict(model="plugin", cpu="train", to_static=True),
    "plugin, bf16 autocast (O1)": dict(model="plugin", cpu="train", amp="bfloat16"),
}
SEED = 0


class Trainer:
    """One training step of a model, its optimizer and losses, optionally under bf16 autocast."""

    def __init__(self, model, optimizer, losses, num_classes, amp=None):
        self.model, self.optimizer, self.losses, self.amp = model, optimizer, losses, amp
        self.num_classes = num_classes

    def step(self, images, labels):
        self.model.train()
        with paddle.amp.auto_cast(enable=self.amp is not None, dtype=self.amp or "float16", level="O1"):
            logits = self.model(images)
            loss = paddle.add_n([coef * loss_fn(logit, labels) for logit, loss_fn, coef
                                 in zip(logits, self.losses["types"], self.losses["coef"])])
        loss.backward()
        self.optimizer.step()
        self.optimizer.clear_grad()
        return float(loss)


def build_trainer(variant, model="plugin", to_static=False, amp=None):
    """The plugin's or the reference's Trainer from the variant's shipped config; the reference
    holds the weights the plugin is initialised with (both are built from the same seed)."""
    config = Config(CONFIGS[variant], opts=["model.backbone.pretrained=None"])
    paddle.seed(SEED)
    with contextlib.redirect_stdout(io.StringIO()):
        plugin = SegBuilder(config)
        if model == "plugin":
            network = paddle.jit.to_static(plugin.model, full_graph=True) if to_static else plugin.model
            return Trainer(network, plugin.optimizer, plugin.loss, plugin.model.num_classes, amp)
        arguments = dict(REFERENCE_ARGUMENTS[variant])
        reference_model = PPLiteSeg(plugin.model.num_classes, arguments.pop("backbone")(), **arguments)
        reference_model.set_state_dict(convert_to_official(plugin.model.state_dict()))
        reference = SegBuilder(config)
        reference.__dict__["model"] = reference_model  # SegBuilder caches its model: its optimizer takes this one
        losses = {"coef": plugin.loss["coef"], "types": [_paddleseg_loss(loss) for loss in plugin.loss["types"]]}
        return Trainer(reference_model, reference.optimizer, losses, plugin.model.num_classes, amp)


def _paddleseg_loss(loss):
    """PaddleSeg's own computation of ``loss`` (whatever the registry now builds), with its settings."""
    if not isinstance(loss, paddleseg_losses.OhemCrossEntropyLoss):
        raise ValueError(f"the benchmark knows PaddleSeg's OhemCrossEntropyLoss only, got {type(loss).__name__}")
    return PaddleSegOhemCrossEntropyLoss(thresh=loss.thresh, min_kept=loss.min_kept, ignore_index=loss.ignore_index)


def set_up_cpu(cpu, cpu_threads):
    """This process's CPU settings: "train" as `paddleseg train` makes them (without OMP_NUM_THREADS,
    which Paddle's import has set to 1 here), "threads" its thread count alone, "paddle" Paddle's
    defaults. Returns the intra-op thread count."""
    if cpu == "paddle":
        return paddle.get_flags(["FLAGS_paddle_num_threads"])["FLAGS_paddle_num_threads"]
    unset = {name: value for name, value in os.environ.items() if name != USER_VARIABLE}
    count = training_threads(cpu_threads, num_workers=0, environ=unset)
    if cpu == "train":
        use_mkl_avx2_kernels()
    set_threads(count.threads)
    return count.threads


def serve(connection, variant, setup, cpu_threads):
    """A side's process: build its trainer, then answer ("step" | "profile" | "stop", shape) commands."""
    try:
        threads = set_up_cpu(setup["cpu"], cpu_threads)
        paddle.set_device("cpu")
        paddle.set_flags(setup.get("flags", {}))
        trainer = build_trainer(variant, setup["model"], setup.get("to_static", False), setup.get("amp"))
        connection.send(("ready", threads))
        batches = {}
        while True:
            try:
                command, shape = connection.recv()
            except EOFError:  # the parent is gone
                return
            if command == "stop":
                return
            if shape not in batches:
                batches[shape] = random_batch(shape, trainer.num_classes)
            if command == "step":
                connection.send(("seconds", seconds(trainer.step, *batches[shape])))
            elif command == "profile":
                connection.send(("profile", operator_profile(trainer, *batches[shape])))
            elif command == "conv_layouts":
                connection.send(("layouts", conv_layouts(shape)))
    except Exception as error:  # reported by the parent as this side's result
        last_line = (str(error).strip().splitlines() or [""])[-1]  # Paddle's messages end with the cause
        connection.send(("error", f"{type(error).__name__}: {last_line[:200]}"))


class Side:
    """A side's process, driven step by step from the parent (so sides never compute at once)."""

    def __init__(self, variant, setup, cpu_threads):
        self.connection, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(
            target=serve, args=(child, variant, setup, cpu_threads), daemon=True)
        self.process.start()
        child.close()  # the child's copy is the only one: its end closes when it exits
        self.error, self.threads = None, None
        self._answer("ready")

    def _answer(self, expected, command=None):
        if self.error:
            return None
        if command:
            self.connection.send(command)
        kind, value = self.connection.recv()
        if kind == "error":
            self.error = value
            return None
        if kind == "ready":
            self.threads = value
        return value

    def step(self, shape):
        return self._answer("seconds", ("step", shape))

    def profile(self, shape):
        return self._answer("profile", ("profile", shape))

    def conv_layouts(self, shape):
        return self._answer("layouts", ("conv_layouts", shape))

    def stop(self):
        if not self.error:
            self.connection.send(("stop", None))
        self.process.join(timeout=60)


def random_batch(shape, num_classes, seed=SEED):
    rng = np.random.default_rng(seed)
    batch, _, height, width = shape
    labels = rng.integers(0, num_classes + 1, (batch, height, width))
    labels[labels == num_classes] = IGNORE_INDEX
    return paddle.to_tensor(rng.standard_normal(shape, dtype=np.float32)), paddle.to_tensor(labels)


def time_steps(sides, shape, rounds, warmup=1):
    """{name: median seconds per step (None for a side that failed)}, steps of the sides
    interleaved with a rotating order."""
    names = list(sides)
    for name in names:
        for _ in range(warmup):
            sides[name].step(shape)
    times = {name: [] for name in names}
    for round_index in range(rounds):
        offset = round_index % len(names)
        for name in names[offset:] + names[:offset]:
            times[name].append(sides[name].step(shape))
    return {name: None if sides[name].error else float(np.median(values)) for name, values in times.items()}


def conv_layouts(shape, channels=64, rounds=5):
    """{data_format: median seconds} of a 3x3 conv's forward and backward on a (N, 64, H/8, W/8)
    feature (the finest UAFM's), channels first and channels last: would the plugin's parts gain
    from NHWC?"""
    batch, _, height, width = shape
    times = {}
    for data_format in ("NCHW", "NHWC"):
        conv = paddle.nn.Conv2D(channels, channels, 3, padding=1, data_format=data_format)
        feature_shape = [batch, channels, height // 8, width // 8]
        if data_format == "NHWC":
            feature_shape = [batch, height // 8, width // 8, channels]
        feature = paddle.randn(feature_shape)
        feature.stop_gradient = False

        def step():
            conv(feature).sum().backward()
        step()
        times[data_format] = float(np.median([seconds(step) for _ in range(rounds)]))
    return times


def operator_profile(trainer, images, labels):
    """(step seconds, {operator: (calls, milliseconds)}) of one profiled step."""
    trainer.step(images, labels)
    session = profiler.Profiler(targets=[profiler.ProfilerTarget.CPU], on_trace_ready=lambda _: None)
    session.start()
    step_seconds = seconds(trainer.step, images, labels)
    session.stop()
    result = session.profiler_result
    with contextlib.redirect_stdout(io.StringIO()):
        items = StatisticData(result.get_data(), result.get_extra_info()).event_summary.items
    return step_seconds, {name: (item.call, item.cpu_time / 1e6) for name, item in items.items()}


def parse_shape(text):
    shape = tuple(int(side) for side in text.lower().split("x"))
    if len(shape) != 4:
        raise argparse.ArgumentTypeError(f"a shape is NxCxHxW, got {text!r}")
    return shape


def shape_name(shape):
    return "x".join(map(str, shape))


def measure(args):
    """Every variant x shape, the sides timed interleaved (the alternatives too, at the target's
    variant and shape, with --alternatives); profiles of the first variant at the target's shape
    and the largest."""
    gemm_threads = training_threads(args.cpu_threads, environ={}).threads
    gemm = gemm_gflops(gemm_threads)
    rows, profiles, alternatives, threads, layouts = [], {}, {}, {}, None
    largest = max(args.shapes, key=np.prod)
    for variant in args.variants:
        setups = dict(SIDES, **(ALTERNATIVES if args.alternatives and variant == TARGET[0] else {}))
        sides = {name: Side(variant, setup, args.cpu_threads) for name, setup in setups.items()}
        threads.update({name: side.threads for name, side in sides.items()})
        flops_model = build_trainer(variant).model
        try:
            for shape in args.shapes:
                timed = {name: side for name, side in sides.items()
                         if name in SIDES or (variant, shape) == TARGET[:2]}
                times = time_steps(timed, shape, args.rounds)
                step_gflop = 3 * shape[0] * complexity(flops_model, (1, *shape[1:]))[1]
                rows.append(dict(variant=variant, shape=shape, step_gflop=step_gflop,
                                 plugin=times["plugin"], reference=times["reference"]))
                print(_row(rows[-1], gemm), flush=True)
                alternatives.update({(variant, shape, name): (seconds_, sides[name].error)
                                     for name, seconds_ in times.items() if name not in SIDES})
                if shape in (largest, TARGET[1]) and variant == args.variants[0]:
                    profiles[shape] = {name: sides[name].profile(shape) for name in SIDES}
                if args.alternatives and (variant, shape) == TARGET[:2]:
                    layouts = sides["plugin"].conv_layouts(shape)
        finally:
            for side in sides.values():
                side.stop()
    return dict(rows=rows, profiles=profiles, gemm=gemm, gemm_threads=gemm_threads, threads=threads,
                alternatives=alternatives, layouts=layouts if args.alternatives else None)


def _row(row, gemm):
    plugin_rate = row["step_gflop"] / row["plugin"]
    ratio = row["plugin"] / row["reference"]
    batch = row["shape"][0]
    return (f"| {row['variant']} | {shape_name(row['shape'])} | {row['reference']:.3f} | {row['plugin']:.3f} | "
            f"{batch / row['reference']:.2f} | {batch / row['plugin']:.2f} | "
            f"{row['step_gflop'] / row['reference']:.1f} | {plugin_rate:.1f} | {plugin_rate / gemm:.2f} | "
            f"{ratio:.3f} |")


def verdict(rows):
    """(line, met) for the target: the plugin's T step at most half the reference's."""
    variant, shape, limit = TARGET
    for row in rows:
        if row["variant"] == variant and row["shape"] == shape:
            ratio = row["plugin"] / row["reference"]
            met = ratio <= limit
            return (f"PP-LiteSeg-{variant} at {shape_name(shape)}: plugin / reference step time {ratio:.3f} "
                    f"(target <= {limit}): **{'met' if met else 'NOT met'}**", met)
    return f"PP-LiteSeg-{variant} at {shape_name(shape)} not measured: no verdict", None


def profile_table(profiles):
    """Markdown rows: the operators taking most time in either step, reference and plugin side by side."""
    (reference_seconds, reference_ops), (plugin_seconds, plugin_ops) = profiles["reference"], profiles["plugin"]
    names = sorted(set(reference_ops) | set(plugin_ops),
                   key=lambda name: -max(reference_ops.get(name, (0, 0))[1], plugin_ops.get(name, (0, 0))[1]))
    lines = ["| operator | reference calls | reference ms | of its step | plugin calls | plugin ms | of its step |",
             "|---|---|---|---|---|---|---|"]
    for name in names[:PROFILE_ROWS]:
        cells = []
        for ops, step_seconds in ((reference_ops, reference_seconds), (plugin_ops, plugin_seconds)):
            calls, milliseconds = ops.get(name, (0, 0.0))
            cells += [str(calls), f"{milliseconds:.1f}", f"{milliseconds / (step_seconds * 1e3):.1%}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append(f"| whole step (profiled) | | {reference_seconds * 1e3:.1f} | | | {plugin_seconds * 1e3:.1f} | |")
    return lines


def section(results, args):
    """The "Training throughput" section of results.md."""
    cpu = read_cpu_info().model
    threads = results["threads"]
    command = " ".join(["python benchmarks/train_throughput.py"] + sys.argv[1:])
    lines = [SECTION, "",
             f"Generated by `{command}` on {cpu}, Paddle {paddle.__version__}. A step: forward (train mode), the "
             "Cityscapes config's three OHEM losses, backward, SGD-momentum update, on random data. Plugin: "
             f"`LiteSeg` with the plugin's loss and `paddleseg train`'s CPU settings ({threads['plugin']} intra-op "
             "threads; MKL_DEBUG_CPU_TYPE=5 where the CPU is an AMD one with AVX2); reference: PaddleSeg's "
             f"`PPLiteSeg` and `OhemCrossEntropyLoss` with Paddle's defaults ({threads['reference']} thread); same "
             f"weights; one process each. Median of {args.rounds} interleaved rounds. GFLOP/s: 3x the inference "
             f"forward's FLOPs per sample; numpy's fp32 GEMM with {results['gemm_threads']} threads: "
             f"{results['gemm']:.1f} GFLOP/s.", "",
             verdict(results["rows"])[0], "",
             "| variant | batch shape | reference s/step | plugin s/step | reference samples/s | plugin samples/s | "
             "reference GFLOP/s | plugin GFLOP/s | plugin of fp32 GEMM | plugin / reference time |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [_row(row, results["gemm"]) for row in results["rows"]]
    if results["alternatives"]:
        lines += ["", "### Settings investigated for the plugin's step", "",
                  "Each in its own process, interleaved with the two above; \"vs plugin\" is its step time over "
                  "the plugin's (below 1: faster).", "",
                  "| variant | batch shape | setting | s/step | vs plugin |", "|---|---|---|---|---|"]
        plugin_times = {(row["variant"], row["shape"]): row["plugin"] for row in results["rows"]}
        for (variant, shape, name), (step_seconds, error) in results["alternatives"].items():
            cells = (f"failed: {error} | -" if error else
                     f"{step_seconds:.3f} | {step_seconds / plugin_times[(variant, shape)]:.3f}")
            lines.append(f"| {variant} | {shape_name(shape)} | {name} | {cells} |")
    if results["layouts"]:
        layouts = results["layouts"]
        lines += ["", f"3x3 convolution, 64 channels, at the finest UAFM's resolution, forward and backward under "
                  f"the plugin's settings: NCHW {layouts['NCHW'] * 1e3:.1f} ms, NHWC {layouts['NHWC'] * 1e3:.1f} ms "
                  f"(NHWC / NCHW {layouts['NHWC'] / layouts['NCHW']:.2f})."]
    if not bf16_flags():
        lines += ["", "bf16 autocast is not a measure of bf16 here: this CPU has neither avx512_bf16 nor AMX, "
                  "so Paddle emulates bf16."]
    for shape, profiles in results["profiles"].items():
        lines += ["", f"### Per-operator profile, PP-LiteSeg-{args.variants[0]} at {shape_name(shape)}: before "
                  "(PaddleSeg) and after (plugin)", "",
                  "CPU time of one profiled step per operator (forward ops `... dygraph`, backward `Global_...Node`);"
                  " a share is of that step's wall time, and nested work makes shares overlap.", ""]
        lines += profile_table(profiles)
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=["T", "B"], choices=sorted(CONFIGS))
    parser.add_argument("--shapes", nargs="+", type=parse_shape, default=[parse_shape(s) for s in DEFAULT_SHAPES],
                        help="Batch shapes NxCxHxW (default: the toy crop and 4x3x240x320).")
    parser.add_argument("--large", action="store_true", help=f"Also time {LARGE_SHAPE} (the configs' crop; slow).")
    parser.add_argument("--rounds", type=int, default=5, help="Timed steps of each model per shape.")
    parser.add_argument("--cpu_threads", type=int, default=None,
                        help="The plugin's intra-op threads (default: as `paddleseg train` chooses them).")
    parser.add_argument("--alternatives", action="store_true",
                        help="Also time the investigated settings (ALTERNATIVES) at the target's variant and shape.")
    parser.add_argument("--no-write", dest="write", action="store_false", help="Print only; leave results.md.")
    args = parser.parse_args()
    if args.large:
        args.shapes.append(parse_shape(LARGE_SHAPE))
    os.chdir(HERE.parent)
    paddle.set_device("cpu")
    print("| variant | batch shape | reference s/step | plugin s/step | reference samples/s | plugin samples/s | "
          "reference GFLOP/s | plugin GFLOP/s | plugin of fp32 GEMM | plugin / reference time |")
    results = measure(args)
    text = section(results, args)
    print(text)
    if args.write:
        replace_section(RESULTS, "training throughput", text)


if __name__ == "__main__":
    main()
