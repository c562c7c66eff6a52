"""Images larger than the model: ``paddleseg infer --is_slide`` on 1 to 100 megapixels, time and peak memory.

    python benchmarks/large_images.py
    python benchmarks/large_images.py --megapixels 1 10 --backend openvino

PP-LiteSeg-T (the CamVid-trained one of ``device_formats.py``, else the config's initial weights:
time and memory do not depend on them) is exported with logits (``--output_op none``, dynamic
shapes) and without the CamVid config's resize to 960x720 (only Normalize), so the image is run at
its own size. Each size is a square JPEG tiled from the CamVid sample's photos. ``paddleseg infer`` runs
in its own process, once sliding a 1024x512 window by 768x384 (the paper's Cityscapes T input, a
quarter overlap), and once on the whole image where that fits in memory (``--whole_up_to``
megapixels). Each run reports its wall time (reading, preprocessing, the model, writing the label
PNG and the overlay) and its process's peak resident memory; the band of summed logits that
sliding holds is classes x 512 x width x 4 bytes. Then, on a 6000x4000 image of the same photos,
the labels ``infer --is_slide`` writes are compared with those of ``paddleseg predict --is_slide``
(PaddleSeg's own sliding window, dygraph, the same weights and window). Writes the "large images"
section of results.md.
"""
import argparse
import datetime
import math
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import yaml

from paddleseg_liteseg.deploy.running.cpu_features import read_cpu_info
from report_sections import replace_section
from run_benchmarks import CAMVID_SAMPLE, REPO, camvid_t_weights

HERE = Path(__file__).resolve().parent
SECTION = "large images"
CONFIG = REPO / "configs" / "camvid" / "pp_liteseg_stdc1_camvid_960x720_10k.yml"
CROP, STRIDE = (1024, 512), (768, 384)
PEAK = "PEAK_RSS_KB"
RUN = ("import resource, sys; from paddleseg_liteseg.cli import main; code = main(sys.argv[1:]); "
       f"print('{PEAK}', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(code)")


def paddleseg(*args):
    """(stdout, seconds, peak RSS in MB) of ``paddleseg`` run in its own process."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", RUN, *map(str, args)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode:
        sys.exit(f"paddleseg {args[0]} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    peak_kb = int(result.stdout.split(PEAK)[1].split()[0])
    return result.stdout, seconds, peak_kb / 1024


def tiled_image(path, megapixels):
    """A square JPEG of about ``megapixels`` tiled from the CamVid sample's photos."""
    side = int(math.sqrt(megapixels * 1e6))
    photos = [cv2.imread(str(photo)) for photo in sorted((CAMVID_SAMPLE / "images").glob("*.png"))]
    height, width = photos[0].shape[:2]
    rows = [np.concatenate([photos[(row * 7 + column) % len(photos)] for column in range(-(-side // width))], axis=1)
            for row in range(-(-side // height))]
    cv2.imwrite(str(path), np.concatenate(rows, axis=0)[:side, :side], [cv2.IMWRITE_JPEG_QUALITY, 90])
    return side


def predict_agreement(work, model_dir, config, weights, backend):
    """Share of pixels where ``infer --is_slide`` and PaddleSeg's ``predict --is_slide`` agree, on a
    6000x4000 image tiled from the CamVid photos."""
    from PIL import Image

    folder = work / "agreement"
    folder.mkdir(exist_ok=True)
    side = tiled_image(folder / "image.jpg", 36)  # 6000 x 6000, cut to 6000 x 4000 below
    image = cv2.imread(str(folder / "image.jpg"))[:4000, :side]
    cv2.imwrite(str(folder / "image.png"), image)
    (folder / "image.jpg").unlink()
    window = ["--is_slide", "--crop_size", *CROP, "--stride", *STRIDE]
    paddleseg("infer", "--model_dir", model_dir, "--image_path", folder, "--save_dir", work / "infer_out",
              "--backend", backend, *window)
    paddleseg("predict", "--config", config, *weights, "--image_path", folder, "--save_dir", work / "predict_out",
              *window)
    labels = [np.asarray(Image.open(work / out / "pseudo_color_prediction" / "image.png"))
              for out in ("infer_out", "predict_out")]
    return float((labels[0] == labels[1]).mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megapixels", nargs="+", type=float, default=[1, 10, 50, 100])
    parser.add_argument("--whole_up_to", type=float, default=10, help="Also run whole images up to this size.")
    parser.add_argument("--backend", default="onnxruntime")
    args = parser.parse_args()
    if not CAMVID_SAMPLE.is_dir():
        sys.exit(f"needs the CamVid sample at {CAMVID_SAMPLE}")
    work = HERE / ".cache" / "large_images"
    work.mkdir(parents=True, exist_ok=True)
    weights = camvid_t_weights()
    model_dir, config = work / "model", work / "camvid_t_own_size.yml"
    config.write_text(yaml.safe_dump({"_base_": str(CONFIG), "val_dataset": {"transforms": [{"type": "Normalize"}]}}))
    paddleseg("export", "--config", config, *weights, "--save_dir", model_dir, "--onnx", "--output_op", "none")
    rows = []
    for megapixels in args.megapixels:
        image_dir = work / f"{megapixels:g}mp"
        image_dir.mkdir(exist_ok=True)
        side = tiled_image(image_dir / "image.jpg", megapixels)
        modes = [("sliding", ["--is_slide", "--crop_size", *CROP, "--stride", *STRIDE])]
        if megapixels <= args.whole_up_to:
            modes.append(("whole image", ["--no_slide"]))
        for mode, flags in modes:
            _, seconds, peak_mb = paddleseg("infer", "--model_dir", model_dir, "--image_path", image_dir, "--save_dir",
                                            work / "out", "--backend", args.backend, *flags)
            rows.append((f"{side}x{side}", side * side / 1e6, mode, seconds, peak_mb))
            print(rows[-1], flush=True)
    agreement = predict_agreement(work, model_dir, config, weights, args.backend)
    classes = 11
    lines = [f"Generated by `python benchmarks/large_images.py` on {datetime.date.today().isoformat()}: "
             f"{read_cpu_info().model}, {args.backend}, PP-LiteSeg-T exported with logits (dynamic shapes), "
             "preprocessing Normalize only (the image at its own size). "
             f"`paddleseg infer` on one JPEG tiled from CamVid photos, in its own process: wall time (reading, "
             f"preprocessing, the model, writing the label PNG and the overlay) and the process's peak resident "
             f"memory. Sliding: a {CROP[0]}x{CROP[1]} window by {STRIDE[0]}x{STRIDE[1]}; its band of summed logits "
             f"is {classes} x {CROP[1]} x width x 4 bytes.", "",
             "| image | megapixels | inference | seconds | peak RSS (MB) | band of logits (MB) |",
             "|---|---|---|---|---|---|"]
    for size, megapixels, mode, seconds, peak_mb in rows:
        width = int(size.split("x")[1])
        band = f"{classes * CROP[1] * width * 4 / 2 ** 20:.0f}" if mode == "sliding" else ""
        lines.append(f"| {size} | {megapixels:.0f} | {mode} | {seconds:.1f} | {peak_mb:.0f} | {band} |")
    lines += ["", f"Labels of `infer --is_slide` ({args.backend}) equal to `paddleseg predict --is_slide`'s (PaddleSeg's "
              f"dygraph sliding window) on a 6000x4000 image of CamVid photos: {agreement:.4%} of the pixels."]
    markdown = "## Large images: sliding windows on an exported model\n\n" + "\n".join(lines) + "\n"
    replace_section(HERE / "results.md", SECTION, markdown)
    print(markdown)


if __name__ == "__main__":
    main()
