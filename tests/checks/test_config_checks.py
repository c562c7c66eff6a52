"""check_config and load_config: every config mistake is one line naming the file and the key."""
import glob
import os
import re

import pytest
import yaml
from paddleseg.cvlibs import Config
from paddleseg.cvlibs.config import parse_from_yaml

from paddleseg_liteseg.checks import check_config, load_config
from paddleseg_liteseg.datasets.toy import make_toy_dataset
from paddleseg_liteseg.errors import ConfigError
from toy_training import TOY_CONFIG

CONFIG_ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "configs")
SHIPPED = sorted(path for path in glob.glob(os.path.join(CONFIG_ROOT, "*", "*.yml")) if "_base_" not in path)


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("toy"))
    make_toy_dataset(root, num_train=2, num_val=1, size=(64, 32))
    return root


@pytest.fixture
def write_config(toy_root, tmp_path):
    """write_config(edit) -> path of the toy config pointed at the toy data, after ``edit(dict)``."""
    def write(edit=None):
        dic = parse_from_yaml(TOY_CONFIG)
        for section, key in (("train_dataset", "train_path"), ("val_dataset", "val_path")):
            dic[section].update({"dataset_root": toy_root, key: os.path.join(toy_root, f"{key[:-5]}.txt")})
        if edit:
            edit(dic)
        path = str(tmp_path / "config.yml")
        with open(path, "w") as f:
            yaml.safe_dump(dic, f)
        return path
    return write


def problems(path, **kwargs):
    """The lines of the ConfigError that load_config(path) raises."""
    with pytest.raises(ConfigError) as error:
        load_config(path, **kwargs)
    return str(error.value).splitlines()


def test_the_toy_config_passes_and_comes_out_as_paddleseg_builds_it(write_config):
    config = load_config(write_config())
    assert config.model_cfg["num_classes"] == 5
    assert len(config.loss_cfg["types"]) == 3  # PaddleSeg's own rules ran: one loss per coef


@pytest.mark.parametrize("path", SHIPPED, ids=os.path.basename)
def test_every_shipped_config_passes(path):
    check_config(Config(path), path, sections=())  # their data/ folders are the user's to make


def set_key(key, value):
    """An edit setting ``key``, named as the checks name it (``loss.types[0].type``), to ``value``."""
    *parents, last = [int(step) if step.isdigit() else step for step in re.findall(r"[^.\[\]]+", key)]

    def edit(dic):
        node = dic
        for step in parents:
            node = node[step]
        node[last] = value
    return edit


@pytest.mark.parametrize("key, value, message", [
    ("model.backbone.type", "STDC3", "unknown type 'STDC3'; did you mean 'STDC2'?"),
    ("model.type", "liteseg", "unknown type 'liteseg'; did you mean 'LiteSeg'?"),
    ("train_dataset.type", "Datset", "unknown type 'Datset'; did you mean 'Dataset'?"),
    ("train_dataset.transforms[1].type", "RandomDistrot",
     "unknown type 'RandomDistrot'; did you mean 'RandomDistort'?"),
    ("loss.types[0].type", "OhemCrossEntropyLos",
     "unknown type 'OhemCrossEntropyLos'; did you mean 'OhemCrossEntropyLoss'?"),
    ("optimizer.type", "SDG", "unknown optimizer 'SDG'; did you mean 'SGD'?"),
    ("lr_scheduler.type", "Poly",
     "unknown scheduler 'Poly', not in paddle.optimizer.lr; did you mean 'PolynomialDecay'?"),
    ("model.backbone.type", "Xyzzy", "unknown type 'Xyzzy' (no registered name is close; is its package imported?)"),
])
def test_an_unknown_type_names_the_key_and_the_closest_registered_name(write_config, key, value, message):
    path = write_config(set_key(key, value))
    assert problems(path) == [f"{path}: {key}: {message}"]


@pytest.mark.parametrize("key, message", [
    ("model.num_clases", "LiteSeg takes no argument 'num_clases'; did you mean 'num_classes'?"),
    ("train_dataset.dataset_rot", "Dataset takes no argument 'dataset_rot'; did you mean 'dataset_root'?"),
    ("loss.types[0].min_keep", "OhemCrossEntropyLoss takes no argument 'min_keep'; did you mean 'min_kept'?"),
    ("lr_scheduler.warmup_iter", "PolynomialDecay takes no argument 'warmup_iter'; did you mean 'warmup_iters'?"),
])
def test_an_unknown_argument_names_the_key_and_the_closest_argument(write_config, key, message):
    path = write_config(set_key(key, 1))
    assert problems(path) == [f"{path}: {key}: {message}"]


def test_num_classes_that_disagree_are_named_against_the_training_data(write_config):
    path = write_config(lambda dic: (dic["model"].update(num_classes=19), dic["val_dataset"].update(num_classes=4)))
    assert problems(path) == [f"{path}: val_dataset.num_classes: 4, but train_dataset.num_classes is 5",
                              f"{path}: model.num_classes: 19, but train_dataset.num_classes is 5"]


def test_num_classes_of_a_typed_dataset_come_from_its_class(write_config):
    def camvid(dic):
        for section in ("train_dataset", "val_dataset"):
            dic[section]["type"] = "CamVid"
            del dic[section]["num_classes"]
        dic["loss"]["types"] *= 2
        dic["loss"]["types"].append({"type": "RMILoss", "num_classes": 11})
    path = write_config(camvid)
    assert problems(path) == [f"{path}: model.num_classes: 5, but train_dataset (CamVid) has 11 classes"]
    path = write_config(lambda dic: (camvid(dic), dic["model"].update(num_classes=11),
                                     dic["loss"]["types"][2].update(num_classes=12)))
    assert problems(path) == [f"{path}: loss.types[2].num_classes: 12, but train_dataset (CamVid) has 11 classes"]


@pytest.mark.parametrize("key, value, message", [
    ("train_dataset.dataset_root", "/no/such/root", "folder not found: /no/such/root"),
    ("train_dataset.train_path", "/no/such/train.txt", "file list not found: /no/such/train.txt"),
    ("val_dataset.val_path", "missing.txt", "file list not found: missing.txt (relative to the working directory "),
    ("train_dataset.mode", "trian", "must be one of train, val, test, got 'trian'; did you mean 'train'?"),
])
def test_missing_dataset_files_name_the_key(write_config, key, value, message):
    path = write_config(set_key(key, value))
    assert problems(path)[0].startswith(f"{path}: {key}: {message}")


def test_a_generic_dataset_needs_its_file_list_and_arguments(write_config):
    def strip(dic):
        del dic["train_dataset"]["train_path"], dic["train_dataset"]["mode"]
        del dic["val_dataset"]["val_path"]
    path = write_config(strip)
    assert problems(path) == [f"{path}: train_dataset.mode: missing; Dataset needs it",
                              f"{path}: val_dataset.val_path: missing; Dataset in mode 'val' reads its file "
                              "list from it"]


def test_only_the_sections_that_will_be_used_need_their_files(write_config):
    path = write_config(set_key("val_dataset.dataset_root", "/no/such/root"))
    assert load_config(path, sections=("train_dataset",))
    assert problems(path, sections=("train_dataset", "val_dataset")) == [
        f"{path}: val_dataset.dataset_root: folder not found: /no/such/root"]
    without_val = write_config(lambda dic: dic.pop("val_dataset"))
    assert problems(without_val, sections=("train_dataset", "val_dataset")) == [f"{without_val}: val_dataset: missing"]


def test_the_loss_count_must_match_the_logits_of_the_model(write_config):
    path = write_config(set_key("loss.coef", [1, 1]))
    assert problems(path) == [f"{path}: loss.coef: 2 weights, but LiteSeg returns 3 logits in training (one per "
                              "model.backbone_indices entry); give one coef per logit"]
    path = write_config(lambda dic: dic["loss"]["types"].extend([{"type": "CrossEntropyLoss"}]))
    assert problems(path) == [f"{path}: loss.types: 2 losses for 3 coef; give one loss for every output or one "
                              "per coef"]
    path = write_config(set_key("model.backbone_indices", [3, 4]))
    assert "loss.coef: 3 weights, but LiteSeg returns 2 logits" in problems(path)[0]


@pytest.mark.parametrize("transform, message", [
    ({"type": "RandomPaddingCrop", "crop_size": [16, 512]},
     "crop_size: [16, 512] is under 32 px, the stride of LiteSeg's deepest features: its context module would "
     "pool less than one pixel; crop at least 32x32"),
    ({"type": "RandomPaddingCrop", "crop_size": [0, 512]},
     "crop_size: must be [width, height], two positive integers, got [0, 512]"),
    ({"type": "Resize", "target_size": 512}, "target_size: must be [width, height], two positive integers, got 512"),
    ({"type": "ResizeByShort", "short_size": -1}, "short_size: must be a positive integer, got -1"),
    ({"type": "ResizeStepScaling", "min_scale_factor": 2.0},
     "min_scale_factor: min_scale_factor (2.0) is larger than max_scale_factor (1.25)"),
])
def test_sizes_no_transform_or_model_can_use_name_the_transform(write_config, transform, message):
    path = write_config(lambda dic: dic["train_dataset"]["transforms"].insert(0, transform))
    assert problems(path) == [f"{path}: train_dataset.transforms[0].{message}"]


def test_a_crop_at_the_stride_passes(write_config):
    assert load_config(write_config(lambda dic: dic["train_dataset"]["transforms"].insert(
        0, {"type": "RandomPaddingCrop", "crop_size": [32, 32]})))


def test_sliding_window_sizes_are_checked(write_config):
    path = write_config(lambda dic: dic.update(test_config={"is_slide": True, "crop_size": [64, 64]}))
    assert problems(path) == [f"{path}: test_config.stride: must be [width, height], two positive integers, for "
                              "is_slide, got None"]


def test_missing_and_misspelt_sections(write_config):
    path = write_config(lambda dic: (dic.update(lr_schedular=dic.pop("lr_scheduler"), iters=0), dic.pop("loss")))
    assert problems(path) == [f"{path}: lr_schedular: unknown key; did you mean 'lr_scheduler'?",
                              f"{path}: loss: missing",
                              f"{path}: iters: must be a positive integer, got 0"]


def test_every_problem_is_reported_at_once(write_config):
    def break_all(dic):
        dic["model"]["backbone"]["type"] = "STDC3"
        dic["model"]["num_classes"] = 19
        dic["train_dataset"]["train_path"] = "/no/such/train.txt"
        dic["loss"]["coef"] = [1]
        dic["train_dataset"]["transforms"].insert(0, {"type": "RandomPaddingCrop", "crop_size": [8, 8]})
    path = write_config(break_all)
    keys = [line.split(": ")[1] for line in problems(path)]
    assert keys == ["model.backbone.type", "model.num_classes", "train_dataset.train_path", "loss.coef",
                    "train_dataset.transforms[0].crop_size"]


@pytest.mark.parametrize("opts, message", [
    (["model.backbon.type=STDC2"], "--opts model.backbon.type=STDC2: model.backbon is not in the config; did you "
                                   "mean 'model.backbone'?"),
    (["batch_size"], "--opts batch_size: expected key=value (one '='), e.g. batch_size=4"),
])
def test_bad_opts_name_the_key_and_the_closest_one(write_config, opts, message):
    path = write_config()
    assert problems(path, opts=opts) == [f"{path}: {message}"]


def test_opts_that_add_an_unknown_argument_are_caught(write_config):
    path = write_config()
    assert problems(path, opts=["model.num_clases=4"]) == [
        f"{path}: model.num_clases: LiteSeg takes no argument 'num_clases'; did you mean 'num_classes'?"]


@pytest.mark.parametrize("name, text, message", [
    ("config.yml", "model: [unclosed", "not valid YAML"),
    ("config.yml", "", "the config or one of its _base_ files is empty or not a mapping of keys"),
    ("config.yml", "_base_: nowhere.yml\n", "_base_ file not found: "),
    ("config.json", "{}", "not a YAML config (.yml or .yaml)"),
])
def test_unreadable_config_files_name_the_file(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    assert problems(str(path))[0].startswith(f"{path}: {message}")


def test_a_missing_config_file_is_named(tmp_path):
    assert problems(str(tmp_path / "nope.yml")) == [f"{tmp_path / 'nope.yml'}: config file not found"]


def test_paddleseg_rule_failures_become_config_errors(write_config):
    path = write_config(lambda dic: (dic["train_dataset"].update(ignore_index=0),
                                     dic["loss"]["types"][0].update(ignore_index=255)))
    assert problems(path) == [f"{path}: the ignore_index in loss and train_dataset must be the same. Currently, "
                              "loss ignore_index = 255, train_dataset ignore_index = 0"]


def test_one_class_with_a_softmax_loss_asks_for_two(write_config):
    def one_class(dic):
        for section in ("model", "train_dataset", "val_dataset"):
            dic[section]["num_classes"] = 1
    with pytest.raises(ConfigError) as error:
        load_config(write_config(one_class))
    assert str(error.value).splitlines()[0].endswith(
        "config.yml: train_dataset.num_classes: 1 class: a softmax over one class always predicts it, so nothing "
        "is learned; a binary task has 2 classes, background (0) and foreground (1): num_classes: 2")


def test_one_class_with_a_one_channel_loss_passes(write_config):
    def binary_cross_entropy(dic):
        for section in ("model", "train_dataset", "val_dataset"):
            dic[section]["num_classes"] = 1
        dic["loss"]["types"] = [{"type": "BCELoss"}]
    check_config(Config(write_config(binary_cross_entropy)), "config.yml")
