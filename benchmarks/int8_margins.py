"""Why int8 agrees less with fp32 on one model than on another: how many pixels sit on a knife edge.

    python benchmarks/run_benchmarks.py     # first: trains and exports the CamVid-sample models
    python benchmarks/int8_margins.py

For the models ``run_benchmarks.py`` trained on the CamVid sample (its cache), this measures on
the held-out photos the share of pixels whose top two fp32 logits lie within a small fraction of
the logit scale (the largest absolute logit, median over photos), and, for OpenVINO int8 on NNCF's
model as export writes it and on one with the last convolutions also kept fp32, the share of
pixels int8 changes: among those near pixels and among the others. Where flips concentrate on the
near pixels, keeping layers in fp32 cannot remove them; wider margins (a better-trained model) do.
Writes ``int8_margins.md`` beside this script and prints it.
"""
import argparse
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from paddleseg_liteseg.deploy import create_runtime, read_deploy_yaml
from paddleseg_liteseg.deploy.cpu_features import read_cpu_info
from paddleseg_liteseg.deploy.quantize import OPENVINO_INT8_KEY, calibration_images, fp32_convolutions

HERE = Path(__file__).resolve().parent
NEAR = 0.01  # a pixel is near when its top-two logit gap is below this fraction of the logit scale


def logits_session(onnx_file):
    """An onnxruntime session of ``onnx_file`` that outputs the logits its ArgMax reads."""
    import onnx
    import onnxruntime

    model = onnx.load(onnx_file)
    argmax = next(node for node in model.graph.node if node.op_type == "ArgMax")
    del model.graph.output[:]
    model.graph.output.extend([onnx.helper.make_empty_tensor_value_info(argmax.input[0])])
    return onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def split_images(root, split):
    lines = (root / f"{split}.txt").read_text().split("\n")
    paths = [line.split()[0] for line in lines if line.strip()]
    return calibration_images([path if os.path.isabs(path) else str(root / path) for path in paths],
                              [{"type": "Normalize"}], len(paths))


def quantized(onnx_file, int8_file, images, also_fp32=()):
    """NNCF's mixed-preset model of ``onnx_file`` with export's fp32 layers and ``also_fp32`` kept."""
    import nncf
    import onnx

    logging.getLogger("nncf").setLevel(logging.WARNING)
    model = onnx.load(onnx_file)
    name = model.graph.input[0].name
    dataset = nncf.Dataset(images, lambda image: {name: image[np.newaxis]})
    ignored = sorted(set(fp32_convolutions(onnx_file)) | set(also_fp32))
    onnx.save(nncf.quantize(model, dataset, preset=nncf.QuantizationPreset.MIXED, subset_size=len(images),
                            ignored_scope=nncf.IgnoredScope(names=ignored)), int8_file)
    return int8_file


def measure(variant, cache, last_fp32, threads):
    """Near pixels of ``variant``'s model and what two int8 models change, on the held-out photos."""
    import onnx

    model_dir = cache / f"camvid_{variant}"
    deploy = read_deploy_yaml(str(model_dir))
    onnx_file = str(model_dir / deploy["onnx"])
    calibration, held_out = split_images(cache / "camvid_sample", "train"), split_images(cache / "camvid_sample", "val")
    session = logits_session(onnx_file)
    logits = [session.run(None, {session.get_inputs()[0].name: image[np.newaxis]})[0][0] for image in held_out]
    scale = float(np.median([np.abs(z).max() for z in logits]))
    top_two = [np.sort(z, axis=0)[-2:] for z in logits]
    near = np.concatenate([(top[1] - top[0]).ravel() < NEAR * scale for top in top_two])
    fp32 = np.concatenate([z.argmax(0).ravel() for z in logits])
    convolutions = [node.name for node in onnx.load(onnx_file, load_external_data=False).graph.node
                    if node.op_type == "Conv"]
    row = {"variant": variant, "scale": scale, "near": float(near.mean()), "int8": {}}
    with tempfile.TemporaryDirectory() as work:
        os.symlink(onnx_file, os.path.join(work, deploy["onnx"]))
        for label, also in (("export's NNCF model", ()), (f"last {last_fp32} convolutions also fp32",
                                                           convolutions[-last_fp32:])):
            name = quantized(onnx_file, os.path.join(work, "int8.onnx"), calibration, also)
            runtime = create_runtime(work, dict(deploy, **{OPENVINO_INT8_KEY: os.path.basename(name)}),
                                     "openvino", precision="int8", threads=threads)
            int8 = np.concatenate([runtime(image[np.newaxis])[0].ravel() for image in held_out])
            changed = int8 != fp32
            row["int8"][label] = {"agreement": float(1 - changed.mean()), "near_changed": float(changed[near].mean()),
                                  "other_changed": float(changed[~near].mean()),
                                  "changes_that_are_near": float(near[changed].mean()) if changed.any() else 0.0}
    return row


def write_markdown(rows, path):
    cpu = read_cpu_info()
    lines = ["# int8 agreement and logit margins", "",
             f"Generated by `python benchmarks/int8_margins.py` on {cpu.model}: the CamVid-sample models of "
             "`run_benchmarks.py`, held-out photos, OpenVINO int8 against onnxruntime fp32. A pixel is *near* "
             f"when its top two fp32 logits differ by less than {NEAR:.0%} of the logit scale.", "",
             "| model | near pixels | int8 model | agreement | near pixels changed | other pixels changed | "
             "changes at near pixels |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        for label, score in row["int8"].items():
            lines.append(f"| PP-LiteSeg-{row['variant']} | {row['near']:.4f} | {label} | {score['agreement']:.4f} | "
                         f"{score['near_changed']:.3f} | {score['other_changed']:.4f} | "
                         f"{score['changes_that_are_near']:.3f} |")
    path.write_text("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=["T", "B"])
    parser.add_argument("--last_fp32", type=int, default=16, help="Last convolutions kept fp32 in the second model.")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", default=str(HERE / ".cache"), help="run_benchmarks.py's --work_dir.")
    args = parser.parse_args()
    cache = Path(args.cache)
    missing = [variant for variant in args.variants if not (cache / f"camvid_{variant}" / "deploy.yaml").is_file()]
    if missing:
        raise SystemExit(f"{cache}: no CamVid-sample export of {', '.join(missing)}; run benchmarks/run_benchmarks.py "
                         "first (it needs ../shared/data/camvid_sample)")
    rows = [measure(variant, cache, args.last_fp32, args.threads) for variant in args.variants]
    write_markdown(rows, HERE / "int8_margins.md")
    print((HERE / "int8_margins.md").read_text())


if __name__ == "__main__":
    main()
