"""``Predictor`` on dygraph models: PaddleSeg's default Normalize for a bare model, a config's val
transforms and test options (labels equal PaddleSeg's own ``predict``), colours and bad input."""
import cv2
import numpy as np
import paddle
import pytest
from paddleseg.core import predict
from paddleseg.cvlibs import Config, SegBuilder
from paddleseg.transforms import Compose, Normalize, Resize
from PIL import Image

import paddleseg_liteseg as psl
from paddleseg_liteseg.errors import UserError
from paddleseg_liteseg.shipped_configs import resolve_config

TOY = "pp_liteseg_stdc1_toy_256x128_300"
RESIZED = {"_base_": TOY, "val_dataset": {"transforms": [{"type": "Resize", "target_size": [96, 48]},
                                                         {"type": "Normalize"}]}}


@pytest.fixture(scope="module")
def model():
    """The toy config's model as PaddleSeg builds it: a model without a config for Predictor."""
    paddle.seed(0)
    with paddle.utils.unique_name.guard():
        built = SegBuilder(Config(resolve_config(TOY))).model
    built.eval()
    return built


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)


def test_a_bare_model_gets_paddleseg_normalize(model, image):
    rgb = image[:, :, ::-1].astype("float32")
    batch = ((rgb / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[np.newaxis]
    with paddle.no_grad():
        expected = paddle.argmax(model(paddle.to_tensor(batch))[0], axis=1).numpy()[0]
    labels = psl.Predictor(model).predict(image)
    assert labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, expected)


@pytest.mark.parametrize("given", ["config", "build_model's model"])
@pytest.mark.parametrize("test_config", [{}, {"aug_pred": True, "scales": [0.75, 1.0], "flip_horizontal": True}])
def test_a_config_predicts_as_paddleseg_predict(model, image, tmp_path, test_config, given):
    """The config's val transforms (a Resize here) and test options; labels at the image's size."""
    weights = str(tmp_path / "model.pdparams")
    paddle.save(model.state_dict(), weights)
    path = str(tmp_path / "image.png")
    cv2.imwrite(path, image)
    predict(model, model_path=None, transforms=Compose([Resize([96, 48]), Normalize()]), image_list=[path],
            save_dir=str(tmp_path / "paddleseg"), **test_config)
    expected = np.asarray(Image.open(tmp_path / "paddleseg" / "pseudo_color_prediction" / "image.png"))
    source = RESIZED if given == "config" else psl.build_model(RESIZED)
    labels = psl.Predictor(source, weights=weights, test_config=test_config).predict(path)
    assert labels.shape == image.shape[:2]
    np.testing.assert_array_equal(labels, expected)


def test_a_list_gives_a_list_of_label_maps(model, image):
    labels = psl.Predictor(model).predict([image, image[:20, :30]])
    assert [label.shape for label in labels] == [(50, 70), (20, 30)]


def test_overlay_blends_the_class_colours(model):
    predictor = psl.Predictor(model, palette=[(255, 0, 0)])
    overlay = predictor.overlay(np.zeros((4, 5, 3), np.uint8), np.zeros((4, 5), np.uint8))
    assert (overlay == [0, 0, 102]).all()  # BGR: 0.4 of pure red over black


@pytest.mark.parametrize("image, message", [
    (np.zeros((4, 4), np.uint8), "got an array of shape (4, 4) and dtype uint8"),
    (np.zeros((4, 4, 3), np.float32), "got an array of shape (4, 4, 3) and dtype float32"),
    (3, "got an object of type int")])
def test_a_bad_image_names_the_argument(model, image, message):
    with pytest.raises(UserError, match=r"^image: expected a path or an \(H, W, 3\) BGR uint8 array, "
                                        + message.replace("(", r"\(").replace(")", r"\)")):
        psl.Predictor(model).predict(image)


def test_a_runtime_backend_needs_an_exported_model(model):
    with pytest.raises(UserError, match="backend 'onnxruntime' runs exported models"):
        psl.Predictor(model, backend="onnxruntime")
