"""Sliding windows on exported models (``infer --is_slide``, the Predictor, ``serve``): the labels of
PaddleSeg's own sliding-window inference of the same weights, on every backend, on mosaics of toy
images and, where the CamVid sample lies beside the clone, of real photos; the window a config's
test_config sets is the default; what cannot slide says why."""
import base64
import importlib.util
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import paddle
import pytest
import yaml
from PIL import Image

import paddleseg_liteseg as psl
from paddleseg_liteseg.cli import main
from paddleseg_liteseg.deploy.running.sliding_window import SlideWindow
from paddleseg_liteseg.serving.settings import ServeSettings
from serving.conftest import app_client
from toy_training import write_config

WINDOW = SlideWindow((256, 128), (192, 96))  # the toy model's training size; windows overlap
BACKENDS = ["paddle", "onnxruntime", "openvino"]
CAMVID_SAMPLE = Path(__file__).resolve().parents[4] / "shared" / "data" / "camvid_sample"
ONNX_INSTALLED = all(importlib.util.find_spec(name) for name in ("paddle2onnx", "onnx", "onnxruntime"))
needs_onnx = pytest.mark.skipif(not ONNX_INSTALLED, reason="needs the [onnx] extra (paddle2onnx, onnx, onnxruntime)")
MARGIN = 1e-3  # labels may differ only where PaddleSeg's two best averaged logits are this close


@pytest.fixture(scope="module")
def slide_config(toy_model, tmp_path_factory):
    config = yaml.safe_load(Path(toy_model.config).read_text())
    config["test_config"] = {"is_slide": True, "crop_size": list(WINDOW.crop_size), "stride": list(WINDOW.stride)}
    return write_config(tmp_path_factory.mktemp("slide_config") / "toy_slide.yml", config)


@pytest.fixture(scope="module")
def slide_export(toy_model, slide_config, tmp_path_factory):
    """``paddleseg export --onnx`` of a config whose test_config slides: logits and the window recorded."""
    save_dir = tmp_path_factory.mktemp("slide_export")
    assert main(["export", "--config", slide_config, "--model_path", toy_model.checkpoint, "--save_dir",
                 str(save_dir), "--onnx"]) == 0
    return str(save_dir)


def mosaic(images, columns):
    """One image of ``images`` (equal sizes) tiled in rows of ``columns``."""
    rows = [np.concatenate(images[start:start + columns], axis=1) for start in range(0, len(images), columns)]
    return np.concatenate(rows, axis=0)


@pytest.fixture(scope="module")
def mosaics(val_images, tmp_path_factory):
    """Paths of large images: toy val images 2 x 3 (and CamVid photos 3 x 3 where the sample is here)."""
    folder = tmp_path_factory.mktemp("mosaics")
    cv2.imwrite(str(folder / "toy.png"), mosaic(val_images[:6], 3))
    if CAMVID_SAMPLE.is_dir():
        photos = [cv2.imread(str(path)) for path in sorted((CAMVID_SAMPLE / "images").glob("*.png"))[:9]]
        cv2.imwrite(str(folder / "camvid.png"), mosaic(photos, 3))
    return folder


@pytest.fixture(scope="module")
def paddleseg_slide(toy_model, slide_config, mosaics):
    """{image name: (labels, margin)} of PaddleSeg's dygraph sliding window on each mosaic: its
    argmax and the gap between the two best averaged logits at each pixel."""
    from paddleseg.core.infer import slide_inference

    model = psl.build_model(slide_config, weights=toy_model.checkpoint)
    predictor = psl.Predictor(model)
    results = {}
    for path in sorted(mosaics.glob("*.png")):
        data, _ = predictor._preprocess(cv2.imread(str(path)))
        with paddle.no_grad():
            logits = slide_inference(model, paddle.to_tensor(data[np.newaxis]), WINDOW.crop_size,
                                     WINDOW.stride).numpy()[0]
        best_two = np.sort(logits, axis=0)[-2:]
        results[path.name] = logits.argmax(axis=0), best_two[1] - best_two[0]
    return results


def assert_paddleseg_labels(labels, expected, margin):
    differ = labels != expected
    assert (margin[differ] < MARGIN).all(), f"{differ.sum()} pixels differ, some not at a near-tie"
    assert differ.mean() < 1e-3


@needs_onnx
def test_export_of_a_sliding_config_records_its_window_and_gives_logits(slide_export):
    deploy = yaml.safe_load((Path(slide_export) / "deploy.yaml").read_text())["Deploy"]
    assert deploy["slide"] == {"crop_size": [256, 128], "stride": [192, 96]}
    assert deploy["output_op"] == "none"


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@needs_onnx
def test_infer_slides_as_deploy_yaml_says_and_gives_paddleseg_labels(slide_export, paddleseg_slide, mosaics, backend,
                                                                      tmp_path, capsys):
    assert main(["infer", "--model_dir", slide_export, "--image_path", str(mosaics), "--save_dir", str(tmp_path),
                 "--backend", backend, "--batch_size", "3"]) == 0
    assert "Sliding a 256x128 window by 192x96" in capsys.readouterr().out
    for path in sorted(mosaics.glob("*.png")):
        image = cv2.imread(str(path))
        written = np.asarray(Image.open(tmp_path / "pseudo_color_prediction" / path.name))
        assert written.shape == image.shape[:2]
        assert_paddleseg_labels(written, *paddleseg_slide[path.name])


@pytest.mark.slow
@needs_onnx
def test_the_predictor_slides_as_the_dygraph_predictor_does(slide_export, toy_model, slide_config, mosaics):
    image = cv2.imread(str(mosaics / "toy.png"))
    exported = psl.Predictor(slide_export, backend="onnxruntime", slide=WINDOW, slide_batch_size=4)
    dygraph = psl.Predictor(slide_config, weights=toy_model.checkpoint)  # its test_config slides
    assert exported.window == WINDOW
    assert (exported.predict(image) == dygraph.predict(image)).mean() > 0.999


@pytest.mark.slow
@needs_onnx
def test_no_slide_runs_the_whole_image(slide_export, mosaics, tmp_path):
    assert main(["infer", "--model_dir", slide_export, "--image_path", str(mosaics / "toy.png"), "--save_dir",
                 str(tmp_path), "--backend", "onnxruntime", "--no_slide"]) == 0
    written = np.asarray(Image.open(tmp_path / "pseudo_color_prediction" / "toy.png"))
    whole = psl.Predictor(slide_export, backend="onnxruntime", slide=False).predict(cv2.imread(str(mosaics / "toy.png")))
    assert (written == whole).all()


@pytest.fixture(scope="module")
def fixed_logits_export(toy_model, tmp_path_factory):
    save_dir = tmp_path_factory.mktemp("fixed_logits")
    assert main(["export", "--config", toy_model.config, "--model_path", toy_model.checkpoint, "--save_dir",
                 str(save_dir), "--onnx", "--output_op", "none", "--input_shape", "1", "3", "128", "256"]) == 0
    return str(save_dir)


@pytest.mark.slow
@needs_onnx
def test_a_fixed_shape_model_slides_windows_of_its_own_size(fixed_logits_export, slide_export, mosaics, tmp_path):
    """--is_slide on a fixed-shape model: the window is its H x W, the image is not resized to it."""
    assert main(["infer", "--model_dir", fixed_logits_export, "--image_path", str(mosaics / "toy.png"),
                 "--save_dir", str(tmp_path), "--backend", "onnxruntime", "--is_slide", "--stride", "192", "96"]) == 0
    written = np.asarray(Image.open(tmp_path / "pseudo_color_prediction" / "toy.png"))
    dynamic = psl.Predictor(slide_export, backend="onnxruntime", slide=WINDOW).predict(cv2.imread(str(mosaics / "toy.png")))
    assert (written == dynamic).mean() > 0.999


@pytest.mark.slow
@needs_onnx
def test_serve_answers_with_the_sliding_label_map(slide_export, mosaics):
    image = cv2.imread(str(mosaics / "toy.png"))
    expected = psl.Predictor(slide_export, backend="onnxruntime").predict(image)
    with app_client(ServeSettings(model_dir=slide_export, backend="onnxruntime")) as client:
        encoded = base64.b64encode(cv2.imencode(".png", image)[1].tobytes()).decode("ascii")
        response = client.post("/semantic-segmentation", json={"image": encoded})
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    labels = np.array(result["labelMap"], dtype=np.uint8).reshape(result["size"])
    assert (labels == expected).all()


@pytest.mark.slow
@pytest.mark.parametrize("flags,model,message", [
    (["--is_slide", "--crop_size", "256", "128", "--stride", "192", "96"], "exported", "--output_op"),
    (["--is_slide", "--crop_size", "128", "64", "--stride", "192", "96"], "slide_export", "--stride"),
    (["--is_slide", "--crop_size", "128", "64", "--stride", "64", "32"], "fixed_logits_export", "--crop_size"),
    (["--crop_size", "128", "64"], "slide_export", "take effect with --is_slide"),
])
@needs_onnx
def test_what_cannot_slide_says_why(request, mosaics, tmp_path, capsys, flags, model, message):
    model_dir = request.getfixturevalue(model)
    assert main(["infer", "--model_dir", model_dir, "--image_path", str(mosaics / "toy.png"), "--save_dir",
                 str(tmp_path), "--backend", "onnxruntime", *flags]) != 0
    assert message in capsys.readouterr().err


@pytest.mark.slow
@needs_onnx
def test_an_image_smaller_than_a_fixed_window_is_named(fixed_logits_export, val_images, tmp_path, capsys):
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), cv2.resize(val_images[0], (200, 100)))
    assert main(["infer", "--model_dir", fixed_logits_export, "--image_path", str(small), "--save_dir",
                 str(tmp_path / "out"), "--backend", "onnxruntime", "--is_slide", "--stride", "192", "96"]) != 0
    assert "200x100 is smaller than the 256x128 window" in capsys.readouterr().err


def test_an_image_beyond_opencvs_pixel_limit_names_the_limit_and_its_variable(tmp_path):
    path = tmp_path / "wide.png"
    cv2.imwrite(str(path), np.zeros((300, 400, 3), np.uint8))
    script = f"from paddleseg_liteseg.image_files import read_image; read_image({str(path)!r})"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={"OPENCV_IO_MAX_IMAGE_PIXELS": "10000", "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0
    assert "400x300 is 120000 pixels, more than OpenCV decodes (10000); set OPENCV_IO_MAX_IMAGE_PIXELS" in result.stderr
