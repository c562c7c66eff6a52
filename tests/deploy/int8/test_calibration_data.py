"""The images int8 is calibrated and judged on: the config's train and val datasets."""
import cv2
import numpy as np

from paddleseg_liteseg.api import load
from paddleseg_liteseg.datasets.toy import make_toy_dataset
from paddleseg_liteseg.deploy.int8.calibration_data import agreement_set
from toy_training import toy_config


def test_int8_agreement_images_come_from_the_val_set(tmp_path, capsys):
    """A model is more confident on its training images, so int8's agreement with fp32 is measured
    on the val images; without them, on the calibration images, and export says so."""
    make_toy_dataset(str(tmp_path), num_train=3, num_val=2, size=(64, 32))
    normalize = [{"type": "Normalize"}]
    images, labels, ignore_index = agreement_set(load(toy_config(tmp_path))[1], normalize, count=8)
    val = [line.split() for line in open(tmp_path / "val.txt")]
    expected = [cv2.imread(str(tmp_path / image))[:, :, ::-1].astype("float32") / 127.5 - 1 for image, _ in val]
    assert len(images) == 2
    assert all(np.allclose(image, want.transpose(2, 0, 1), atol=1e-5) for image, want in zip(images, expected))
    assert all(np.array_equal(label, cv2.imread(str(tmp_path / path), cv2.IMREAD_GRAYSCALE))
               for label, (_, path) in zip(labels, val))
    assert ignore_index == 255

    (tmp_path / "val.txt").write_text("")
    assert agreement_set(load(toy_config(tmp_path))[1], normalize) is None
    assert "val_dataset lists no images; measuring the agreement with fp32 on the calibration images" \
        in capsys.readouterr().out
