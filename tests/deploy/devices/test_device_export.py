"""``paddleseg export --format ncnn --format tflite``: every file loads in its own runtime (not
through the plugin) and agrees with onnxruntime fp32, on the toy images and, where the CamVid sample
lies beside the clone, on real photos; deploy.yaml says how to feed them; the export stays offline."""
import os

import cv2
import numpy as np
import pytest

from paddleseg_liteseg.deploy.exporting.device_files import device_files, device_input
from paddleseg_liteseg.deploy.exporting.exported_model import ExportedModel

from deploy.devices.conftest import CAMVID_SAMPLE, DEVICE_SIZE
from deploy.devices.own_runtimes import FILES, MIN_AGREEMENT, agreement

@pytest.fixture(scope="module")
def model(device_export):
    return ExportedModel.read(device_export["dir"])


@pytest.fixture(scope="module")
def toy_inputs(model, val_images):
    return [model.preprocess(image)[0] for image in val_images]


@pytest.mark.slow
@pytest.mark.parametrize("format,precision", FILES)
def test_each_file_agrees_with_onnxruntime_in_its_own_runtime(model, toy_inputs, format, precision):
    measured = agreement(model, format, precision, toy_inputs)
    recorded = next(file for file in device_files(model) if (file.format, file.precision) == (format, precision))
    if precision in MIN_AGREEMENT:
        assert measured >= MIN_AGREEMENT[precision]
    # export checked on the toy val images too (8 of them): what it recorded is what a user measures
    assert recorded.images == 8 and recorded.agreement == pytest.approx(measured, abs=0.01)


@pytest.mark.slow
@pytest.mark.skipif(not CAMVID_SAMPLE.is_dir(), reason="the CamVid sample lies beside the clone only")
@pytest.mark.parametrize("format,precision", FILES)
def test_each_file_agrees_with_onnxruntime_on_real_photos(model, format, precision):
    photos = sorted((CAMVID_SAMPLE / "images").glob("*.png"))[::4]
    inputs = [model.preprocess(cv2.imread(str(photo)))[0] for photo in photos]
    measured = agreement(model, format, precision, inputs)
    print(f"{format} {precision} on {len(photos)} CamVid photos: {measured:.4%}")
    if precision in MIN_AGREEMENT:
        assert measured >= MIN_AGREEMENT[precision]


@pytest.mark.slow
def test_deploy_yaml_says_how_to_feed_each_file(model):
    height, width = DEVICE_SIZE
    assert device_input(model).as_dict() == {"channel_order": "RGB", "height": height, "width": width,
                                             "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
    files = {(file.format, file.precision): file for file in device_files(model)}
    assert sorted(files) == sorted(FILES)
    for (format, precision), file in files.items():
        assert all(os.path.isfile(model.file(name)) for name in file.files)
        assert file.output == "logits"
        if format == "ncnn":
            assert (file.layout, file.input_shape, file.input_name, file.output_name) == ("CHW", (3, height, width),
                                                                                          "in0", "out0")
        else:
            assert (file.layout, file.input_shape) == ("NHWC", (1, height, width, 3))
        assert file.miou is not None and 0 < file.miou <= 1


@pytest.mark.slow
def test_the_export_opened_no_network_connection(device_export):
    assert device_export["attempts"] == []
