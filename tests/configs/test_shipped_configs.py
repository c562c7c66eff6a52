"""Every shipped config builds (model, datasets, optimizer, losses) and trains one step, so none rots."""
import glob
import inspect
import os
import shutil

import numpy as np
import paddle
import pytest
from paddleseg.core import evaluate
from paddleseg.cvlibs import Config, SegBuilder

from paddleseg_liteseg import LiteSeg
from paddleseg_liteseg.datasets.toy import make_toy_dataset

CONFIG_ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "configs")
SHIPPED = sorted(path for path in glob.glob(os.path.join(CONFIG_ROOT, "**", "*.yml"), recursive=True)
                 if "_base_" not in path)
EXPECTED_CLASSES = {"cityscapes": 19, "camvid": 11, "toy": 5}


@pytest.fixture(scope="module")
def stand_in_root(tmp_path_factory):
    """A tiny dataset in the Cityscapes layout, with every file list name the configs use."""
    root = str(tmp_path_factory.mktemp("stand_in"))
    make_toy_dataset(root, num_train=2, num_val=2, size=(64, 32))
    for name in ("trainval.txt", "test.txt"):
        shutil.copyfile(os.path.join(root, "train.txt"), os.path.join(root, name))
    return root


def _point_at(config, root):
    """Send the config's datasets to ``root`` and skip the ImageNet download of the backbone."""
    for section in ("train_dataset", "val_dataset"):
        dataset = config.dic[section]
        dataset["dataset_root"] = root
        for key in ("train_path", "val_path", "test_path"):
            if key in dataset:
                dataset[key] = os.path.join(root, os.path.basename(dataset[key]))
    config.dic["model"]["backbone"]["pretrained"] = None


def test_every_experiment_of_the_paper_is_shipped():
    names = {os.path.basename(path) for path in SHIPPED}
    for backbone in ("stdc1", "stdc2"):
        for scale in ("0.5", "0.75"):
            assert f"pp_liteseg_{backbone}_cityscapes_1024x512_scale{scale}_160k.yml" in names
        assert f"pp_liteseg_{backbone}_camvid_960x720_10k.yml" in names


@pytest.mark.parametrize("path", SHIPPED, ids=[os.path.basename(p) for p in SHIPPED])
def test_config_builds_and_trains_a_step(path, stand_in_root):
    config = Config(path)
    _point_at(config, stand_in_root)
    builder = SegBuilder(config)

    model = builder.model
    assert isinstance(model, LiteSeg)
    dataset_name = os.path.basename(os.path.dirname(path))
    assert model.num_classes == builder.train_dataset.num_classes == EXPECTED_CLASSES[dataset_name]
    assert len(builder.val_dataset) == 2

    crops = [t["crop_size"] for t in config.train_dataset_cfg["transforms"] if t["type"] == "RandomPaddingCrop"]
    sample = builder.train_dataset[0]
    height, width = sample["img"].shape[1:]
    if crops:
        assert [width, height] == list(crops[0])

    losses = builder.loss
    assert len(losses["types"]) == len(losses["coef"]) == 3
    model.train()
    small = paddle.to_tensor(sample["img"][None, :, :128, :256])
    label = paddle.to_tensor(sample["label"][None, :128, :256].astype("int64"))
    logits = model(small)
    assert len(logits) == len(losses["types"])
    total = paddle.add_n([coef * loss(logit, label)
                          for logit, loss, coef in zip(logits, losses["types"], losses["coef"])])
    total.backward()
    optimizer = builder.optimizer
    optimizer.step()
    assert np.isfinite(float(total))
    assert optimizer.get_lr() == pytest.approx(config.dic["lr_scheduler"]["warmup_start_lr"])

    inspect.signature(evaluate).bind(model, builder.val_dataset, **config.test_config)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: os.path.relpath(path, CONFIG_ROOT))
@pytest.mark.parametrize("how", ["argument", "opts"])
def test_build_model_takes_another_class_count_than_the_dataset(path, how):
    """Building a model uses no dataset: a fine-tuning user's class count is theirs to choose,
    whether as ``num_classes`` or as ``model.num_classes`` in ``opts``."""
    import paddleseg_liteseg as psl

    opts = {"model.backbone.pretrained": None}
    if how == "opts":
        model = psl.build_model(path, opts={**opts, "model.num_classes": 3})
    else:
        model = psl.build_model(path, num_classes=3, opts=opts)
    logits = model(paddle.zeros([1, 3, 64, 64]))
    assert model.num_classes == 3 and logits[0].shape[1] == 3
