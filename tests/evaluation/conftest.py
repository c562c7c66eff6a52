"""A small toy val set and a quick model whose mistakes differ from image to image."""
import paddle
import pytest

from paddleseg_liteseg.datasets.toy import make_toy_dataset

NUM_CLASSES = 5


class PixelClassifier(paddle.nn.Layer):
    """A random 1x1 convolution: it classifies each pixel by its colour, so it is partly right."""

    def __init__(self, num_classes=NUM_CLASSES, seed=0):
        super().__init__()
        paddle.seed(seed)
        self.conv = paddle.nn.Conv2D(3, num_classes, 1)

    def forward(self, image):
        return [self.conv(image)]


@pytest.fixture(scope="session")
def toy_val_root(tmp_path_factory):
    """Seven 64x32 val images, with a class_names.txt."""
    root = tmp_path_factory.mktemp("evaluation_toy")
    make_toy_dataset(str(root), num_train=1, num_val=7, size=(64, 32), seed=3)
    (root / "class_names.txt").write_text("background\nbox\ndisc\ntriangle\nstar\n")
    return root


@pytest.fixture
def toy_val(toy_val_root):
    """A fresh PaddleSeg Dataset on the toy val images."""
    from paddleseg.datasets import Dataset
    from paddleseg.transforms import Normalize
    return Dataset(mode="val", dataset_root=str(toy_val_root), val_path=str(toy_val_root / "val.txt"),
                   num_classes=NUM_CLASSES, transforms=[Normalize()])


@pytest.fixture(scope="session")
def pixel_model():
    model = PixelClassifier()
    model.eval()
    return model
