"""``paddleseg infer``: label PNGs and overlays for a folder, an overlay video for a video file, in
the dataset's colours written by export (or --custom_color)."""
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from paddleseg_liteseg import Predictor, export
from paddleseg_liteseg.cli import main
from paddleseg_liteseg.datasets.camvid import CamVid


def test_folder_writes_label_pngs_and_overlays(exported, toy_model, tmp_path, trained_model, helpers, val_images):
    image_dir = toy_model.root / "leftImg8bit" / "val"
    save_dir = tmp_path / "result"
    assert main(["infer", "--model_dir", exported, "--image_path", str(image_dir),
                 "--save_dir", str(save_dir), "--batch_size", "2", "--precision", "fp32"]) == 0
    labels = sorted((save_dir / "pseudo_color_prediction").rglob("*.png"))
    overlays = sorted((save_dir / "added_prediction").rglob("*.png"))
    assert len(labels) == len(overlays) == len(val_images)
    first = np.asarray(Image.open(labels[0]))
    expected = helpers.dygraph_labels(trained_model, helpers.normalize(val_images[:1]))[0]
    assert (first == expected).mean() >= 0.9999
    assert cv2.imread(str(overlays[0])).shape == val_images[0].shape


def test_video_writes_an_overlay_video_and_prints_fps(exported, tmp_path, val_images, capsys):
    height, width = val_images[0].shape[:2]
    video = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*"MJPG"), 5, (width, height))
    for image in val_images:
        writer.write(image)
    writer.release()
    assert main(["infer", "--model_dir", exported, "--image_path", video,
                 "--save_dir", str(tmp_path / "out"), "--backend", "paddle"]) == 0
    output = capsys.readouterr().out
    assert "FPS" in output and "Backend: paddle" in output
    capture = cv2.VideoCapture(str(tmp_path / "out" / "clip_overlay.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == len(val_images)
    capture.release()


def test_predictor_maps_labels_back_through_a_resize(exported, tmp_path, val_images):
    """deploy.yaml transforms that resize: labels come back at the image's own size."""
    deploy_file = os.path.join(exported, "deploy.yaml")
    resized = tmp_path / "resized"
    resized.mkdir()
    for name in os.listdir(exported):
        os.symlink(os.path.join(exported, name), resized / name)
    os.unlink(resized / "deploy.yaml")
    text = open(deploy_file).read().replace("- type: Normalize",
                                            "- type: Resize\n    target_size: [128, 64]\n  - type: Normalize")
    (resized / "deploy.yaml").write_text(text)
    labels = Predictor(str(resized), backend="paddle").predict(val_images[:2])
    assert [label.shape for label in labels] == [image.shape[:2] for image in val_images[:2]]


def test_bad_model_dir_is_one_line(tmp_path, capsys):
    assert main(["infer", "--model_dir", str(tmp_path), "--image_path", str(tmp_path)]) == 1
    error = capsys.readouterr().err.strip()
    assert "deploy.yaml not found" in error and len(error.splitlines()) == 1


def test_folder_with_awkward_files_is_processed_file_by_file(exported, tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    rng = np.random.default_rng(0)
    good = {"gray.png": rng.integers(0, 255, (40, 60), dtype=np.uint8),
            "rgba.png": rng.integers(0, 255, (40, 60, 4), dtype=np.uint8),
            "deep.png": rng.integers(0, 65535, (40, 60), dtype=np.uint16),
            "tiny.png": rng.integers(0, 255, (8, 8, 3), dtype=np.uint8),
            "wide.png": rng.integers(0, 255, (16, 1500, 3), dtype=np.uint8)}
    for name, array in good.items():
        cv2.imwrite(str(folder / name), array)
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.jpg").write_text("not an image")
    (folder / "notes.txt").write_text("ignored")
    assert main(["infer", "--model_dir", exported, "--image_path", str(folder), "--save_dir",
                 str(tmp_path / "out"), "--batch_size", "3"]) == 1
    captured = capsys.readouterr()
    assert "Skipped 1 files without an image suffix" in captured.out
    assert f"skipped {folder / 'empty.png'}: empty file" in captured.err
    assert f"skipped {folder / 'text.jpg'}: not an image OpenCV can decode" in captured.err
    for name, array in good.items():
        label = np.asarray(Image.open(tmp_path / "out" / "pseudo_color_prediction" / name))
        assert label.shape == array.shape[:2], name


@pytest.fixture(scope="module")
def camvid_export(tmp_path_factory):
    """The CamVid config's model (random weights), exported: its deploy.yaml holds CamVid's colours."""
    save_dir = str(tmp_path_factory.mktemp("camvid_export"))
    export("pp_liteseg_stdc1_camvid_960x720_10k", save_dir, opts={"model.backbone.pretrained": None})
    return save_dir


@pytest.fixture
def one_image(tmp_path):
    path = tmp_path / "images" / "street.png"
    path.parent.mkdir()
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8))
    return path


@pytest.mark.parametrize("custom_color, first_colours", [
    ([], [*CamVid.PALETTE[0], *CamVid.PALETTE[1]]),
    (["--custom_color", "255", "0", "0", "0", "255", "0"], [255, 0, 0, 0, 255, 0])])
def test_colours_are_the_datasets_unless_custom_color(camvid_export, one_image, tmp_path, custom_color,
                                                      first_colours):
    assert main(["infer", "--model_dir", camvid_export, "--image_path", str(one_image),
                 "--save_dir", str(tmp_path / "out"), *custom_color]) == 0
    label_png = Image.open(tmp_path / "out" / "pseudo_color_prediction" / "street.png")
    assert label_png.getpalette()[:6] == first_colours


def test_a_missing_image_path_names_the_flag(camvid_export, tmp_path, capsys):
    missing = tmp_path / "nothing_here"
    assert main(["infer", "--model_dir", camvid_export, "--image_path", str(missing)]) == 1
    assert capsys.readouterr().err.strip() == f"paddleseg infer: error: --image_path {missing}: no such file or folder"


def test_int8_of_a_model_without_an_int8_file_names_the_export_flags(exported, tmp_path, capsys):
    model_dir = tmp_path / "no_int8"
    model_dir.mkdir()
    for name in os.listdir(exported):
        os.symlink(os.path.join(exported, name), model_dir / name)
    os.unlink(model_dir / "deploy.yaml")
    text = open(os.path.join(exported, "deploy.yaml")).read()
    (model_dir / "deploy.yaml").write_text("\n".join(line for line in text.splitlines() if "onnx_int8" not in line))
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((32, 64, 3), np.uint8))
    assert main(["infer", "--model_dir", str(model_dir), "--image_path", str(tmp_path / "a.png"),
                 "--save_dir", str(tmp_path / "out"), "--precision", "int8", "--backend", "onnxruntime"]) != 0
    error = capsys.readouterr().err
    assert f"--model_dir {model_dir} has no onnx_int8 model: export it with `paddleseg export --onnx --int8`" in error
