"""A model exported with a fixed ``--input_shape`` runs on images of other sizes on every path:
images are resized to the model's shape, labels come back at the image's size, batches are padded
to the model's batch (deploy.fixed_shape)."""
import json

import cv2
import numpy as np
import pytest
import yaml
from PIL import Image

from paddleseg_liteseg import Predictor
from paddleseg_liteseg.cli import main
from paddleseg_liteseg.deploy.exporting.exported_model import ExportedModel
from paddleseg_liteseg.deploy.exporting.fixed_shape import FixedBatchRuntime, fitted_transforms
from paddleseg_liteseg.deploy.running.runtimes import create_runtime

BACKENDS = ["paddle", "onnxruntime", "openvino"]


def test_the_resize_to_a_fixed_shape_is_added_once():
    normalize = [{"type": "Normalize"}]
    fitted = fitted_transforms(normalize, [1, 3, 96, 160])
    assert fitted == normalize + [{"type": "Resize", "target_size": [160, 96], "keep_ratio": False}]
    assert fitted_transforms(fitted, [1, 3, 96, 160]) == fitted
    assert fitted_transforms(normalize, [None, 3, None, None]) == normalize
    assert fitted_transforms(normalize, [1, 3, -1, -1]) == normalize


class _BatchOf:
    """A fake runtime taking only batches of ``size``: each output is its input's mean per image."""
    name = "fake"

    def __init__(self, size):
        self.size, self.calls = size, []

    def __call__(self, batch):
        assert len(batch) == self.size
        self.calls.append(len(batch))
        return batch.reshape(len(batch), -1).mean(axis=1)


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_a_fixed_batch_is_padded_and_split(count):
    runtime = FixedBatchRuntime(_BatchOf(2), 2)
    batch = np.arange(count, dtype="float32")[:, None, None, None] * np.ones((1, 3, 4, 4), "float32")
    assert runtime(batch).tolist() == list(range(count))
    assert runtime.calls == [2] * ((count + 1) // 2) and runtime.name == "fake"


def expected_labels(exported, fixed_size, image):
    """Labels as a fixed-shape model should give them, computed without the plugin's preprocessing:
    the dynamic-shape export's Paddle model on the image resized to ``fixed_size``, labels resized back."""
    height, width = image.shape[:2]
    rgb = cv2.resize(image, fixed_size[::-1])[:, :, ::-1].astype("float32")
    batch = ((rgb / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[np.newaxis]
    labels = create_runtime(ExportedModel.read(exported), "paddle")(batch)[0]
    return cv2.resize(labels.astype("uint8"), (width, height), interpolation=cv2.INTER_NEAREST)


def test_deploy_yaml_records_the_resize(fixed_export, fixed_size):
    with open(f"{fixed_export}/deploy.yaml") as file:
        transforms = yaml.safe_load(file)["Deploy"]["transforms"]
    assert transforms[-1] == {"type": "Resize", "target_size": [fixed_size[1], fixed_size[0]], "keep_ratio": False}


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_runs_images_of_other_sizes(fixed_export, exported, other_size_images, fixed_size, backend):
    labels = Predictor(fixed_export, backend=backend).predict(other_size_images)
    for image, image_labels in zip(other_size_images, labels):
        assert image_labels.shape == image.shape[:2]
        assert (image_labels == expected_labels(exported, fixed_size, image)).mean() >= 0.99


def test_infer_writes_labels_at_each_image_size(fixed_export, other_size_images, fixed_size, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for index, image in enumerate(other_size_images):
        cv2.imwrite(str(folder / f"{index}.png"), image)
    assert main(["infer", "--model_dir", fixed_export, "--image_path", str(folder),
                 "--save_dir", str(tmp_path / "out"), "--batch_size", "2"]) == 0
    for index, image in enumerate(other_size_images):
        labels = np.asarray(Image.open(tmp_path / "out" / "pseudo_color_prediction" / f"{index}.png"))
        assert labels.shape == image.shape[:2]


def test_a_fixed_batch_takes_fewer_and_more_images(toy_model, other_size_images, fixed_size, tmp_path):
    save_dir = tmp_path / "batch2"
    assert main(["export", "--config", toy_model.config, "--model_path", toy_model.checkpoint,
                 "--save_dir", str(save_dir), "--input_shape", "2", "3", *map(str, fixed_size)]) == 0
    predictor = Predictor(str(save_dir), backend="paddle")
    three_images = other_size_images + other_size_images[:1]
    one, three = predictor.predict(three_images[:1]), predictor.predict(three_images)
    assert [labels.shape for labels in three] == [image.shape[:2] for image in three_images]
    assert (one[0] == three[0]).all() and (three[0] == three[2]).all()


@pytest.mark.slow
def test_tune_times_and_scores_a_fixed_shape_on_other_sizes(fixed_export, other_size_images, fixed_size, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for index, image in enumerate(other_size_images):
        cv2.imwrite(str(folder / f"{index}.png"), image)
    assert main(["tune", "--model_dir", fixed_export, "--image_path", str(folder), "--tune_repeats", "2"]) == 0
    with open(f"{fixed_export}/tuning.json") as file:
        entry = json.load(file)["entries"][-1]
    assert entry["key"]["input_shape"] == [1, 3, *fixed_size]
    assert all(row["agreement"] >= 0.99 for row in entry["rows"] if row["precision"] == "fp32")


@pytest.mark.slow
def test_a_fixed_shape_int8_export_calibrates_on_images_of_another_size(toy_model, other_size_images, fixed_size, tmp_path):
    """The toy images (128x256) calibrate and score a 96x160 int8 export; infer runs its int8."""
    save_dir = tmp_path / "int8"
    assert main(["export", "--config", toy_model.config, "--model_path", toy_model.checkpoint,
                 "--save_dir", str(save_dir), "--input_shape", "1", "3", *map(str, fixed_size),
                 "--int8", "--calib_num", "8", "--int8_search_seconds", "0"]) == 0
    for backend in ("onnxruntime", "openvino"):
        labels = Predictor(str(save_dir), backend=backend, precision="int8").predict(other_size_images)
        assert [label.shape for label in labels] == [image.shape[:2] for image in other_size_images]


def test_int8_of_a_fixed_batch_over_one_is_refused_before_writing(toy_model, fixed_size, tmp_path, capsys):
    save_dir = tmp_path / "int8_batch2"
    assert main(["export", "--config", toy_model.config, "--model_path", toy_model.checkpoint,
                 "--save_dir", str(save_dir), "--input_shape", "2", "3", *map(str, fixed_size), "--int8"]) != 0
    assert f"--input_shape {[2, 3, *fixed_size]}" in capsys.readouterr().err
    assert not save_dir.exists()
