"""``paddleseg train/val/predict`` on a small toy dataset: checkpoints, VisualDL, resume, outputs."""
import os
import shutil

import cv2
import numpy as np
import pytest
import yaml

from paddleseg_liteseg.cli import main
from paddleseg_liteseg.datasets.toy import make_toy_dataset
from toy_training import TOY_CONFIG, read_scalars, toy_opts



@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("toy"))
    make_toy_dataset(root, num_train=8, num_val=3, size=(128, 64))
    return root


def _train(root, save_dir, *flags, **overrides):
    opts = toy_opts(root, **{"batch_size": 2, **overrides})
    return main(["train", "--config", TOY_CONFIG, "--save_dir", str(save_dir), "--device", "cpu",
                 "--log_iters", "1", "--seed", "0", *flags, "--opts", *opts])


@pytest.fixture(scope="module")
def trained(toy_root, tmp_path_factory):
    """Four iterations with evaluation and VisualDL, a checkpoint every two, only one kept."""
    save_dir = tmp_path_factory.mktemp("run")
    assert _train(toy_root, save_dir, "--iters", "4", "--save_interval", "2", "--do_eval", "--use_vdl",
                  "--keep_checkpoint_max", "1") == 0
    return save_dir


def test_train_keeps_the_newest_checkpoints_and_the_best(trained):
    assert sorted(os.listdir(trained / "iter_4")) == ["model.pdopt", "model.pdparams"]
    assert not (trained / "iter_2").exists()
    assert (trained / "best_model" / "model.pdparams").is_file()


def test_best_model_is_also_safetensors_with_identical_outputs(trained):
    import paddle

    from reference_models import build_plugin
    best = trained / "best_model"
    x = paddle.randn([1, 3, 64, 128])
    outputs = []
    for name in ("model.pdparams", "model.safetensors"):
        model = build_plugin("T", num_classes=5, pretrained=str(best / name))
        model.eval()
        outputs.append(model(x)[0].numpy())
    np.testing.assert_array_equal(*outputs)


def test_visualdl_log_has_loss_lr_and_miou(trained):
    loss = read_scalars(str(trained), "Train/loss")
    lr = read_scalars(str(trained), "Train/lr")
    miou = read_scalars(str(trained), "Evaluate/mIoU")
    assert sorted(loss) == sorted(lr) == [1, 2, 3, 4]
    assert all(np.isfinite(v) and v > 0 for v in loss.values())
    assert lr[1] < lr[2]  # linear warmup from warmup_start_lr
    assert sorted(miou) == [2, 4] and all(0 <= v <= 1 for v in miou.values())


def test_resume_continues_with_the_same_iteration_and_lr(toy_root, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert _train(toy_root, straight, "--iters", "4", "--save_interval", "2", "--use_vdl") == 0
    shutil.copytree(straight / "iter_2", resumed / "iter_2")
    assert _train(toy_root, resumed, "--iters", "4", "--save_interval", "2", "--use_vdl",
                  "--resume_model", str(resumed / "iter_2")) == 0
    straight_lr = read_scalars(str(straight), "Train/lr")
    resumed_lr = read_scalars(str(resumed), "Train/lr")
    assert sorted(resumed_lr) == [3, 4]
    for step in (3, 4):
        assert resumed_lr[step] == pytest.approx(straight_lr[step], rel=1e-6)
    assert (resumed / "iter_4" / "model.pdparams").is_file()


def test_val_reports_miou(trained, toy_root, capsys):
    assert main(["val", "--config", TOY_CONFIG, "--device", "cpu",
                 "--model_path", str(trained / "iter_4" / "model.pdparams"), "--opts", *toy_opts(toy_root)]) == 0
    assert "[EVAL] #Images: 3 mIoU:" in capsys.readouterr().out


def test_val_with_flip_and_sliding_window(trained, toy_root, capsys):
    assert main(["val", "--config", TOY_CONFIG, "--device", "cpu", "--aug_eval", "--flip_horizontal",
                 "--is_slide", "--crop_size", "64", "64", "--stride", "48", "48",
                 "--model_path", str(trained / "iter_4" / "model.pdparams"), "--opts", *toy_opts(toy_root)]) == 0
    assert "[EVAL] #Images: 3 mIoU:" in capsys.readouterr().out


def test_predict_writes_an_overlay_and_a_label_image_per_input(trained, toy_root, tmp_path):
    images = os.path.join(toy_root, "leftImg8bit", "val")
    assert main(["predict", "--config", TOY_CONFIG, "--device", "cpu", "--image_path", images,
                 "--model_path", str(trained / "best_model" / "model.pdparams"), "--save_dir", str(tmp_path),
                 "--opts", *toy_opts(toy_root)]) == 0
    overlays = sorted(os.listdir(tmp_path / "added_prediction" / "toyville"))
    labels = sorted(os.listdir(tmp_path / "pseudo_color_prediction" / "toyville"))
    assert len(overlays) == len(labels) == 3
    label = cv2.imread(str(tmp_path / "pseudo_color_prediction" / "toyville" / labels[0]), cv2.IMREAD_UNCHANGED)
    assert label.shape[:2] == (64, 128)


def test_sliding_window_without_sizes_is_a_clear_error(trained, toy_root, capsys):
    assert main(["val", "--config", TOY_CONFIG, "--device", "cpu", "--is_slide",
                 "--opts", *toy_opts(toy_root)]) == 1
    assert "--is_slide needs --crop_size W H and --stride W H" in capsys.readouterr().err


def test_official_pp_liteseg_config_trains_through_the_command(toy_root, tmp_path):
    with open(TOY_CONFIG) as f:
        config = yaml.safe_load(f)
    config.pop("_base_")
    config["model"] = {"type": "PPLiteSeg", "num_classes": 5, "backbone": {"type": "STDC1"},
                       "arm_out_chs": [32, 64, 128], "seg_head_inter_chs": [32, 64, 64]}
    path = tmp_path / "official.yml"
    path.write_text(yaml.safe_dump(config))
    assert main(["train", "--config", str(path), "--save_dir", str(tmp_path / "out"), "--device", "cpu",
                 "--iters", "2", "--save_interval", "2", "--opts", *toy_opts(toy_root, batch_size=2)]) == 0
    assert (tmp_path / "out" / "iter_2" / "model.pdparams").is_file()


def test_predict_handles_awkward_inputs_file_by_file(trained, toy_root, tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    rng = np.random.default_rng(0)
    good = {
        "gray.png": rng.integers(0, 255, (64, 128), dtype=np.uint8),
        "rgba.png": rng.integers(0, 255, (64, 128, 4), dtype=np.uint8),
        "deep.png": rng.integers(0, 65535, (64, 128, 3), dtype=np.uint16),
        "tiny.png": rng.integers(0, 255, (8, 8, 3), dtype=np.uint8),
        "wide.png": rng.integers(0, 255, (16, 1500, 3), dtype=np.uint8),
    }
    for name, array in good.items():
        cv2.imwrite(str(folder / name), array)
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.jpg").write_text("not an image")
    (folder / "notes.txt").write_text("ignored")

    code = main(["predict", "--config", TOY_CONFIG, "--device", "cpu", "--image_path", str(folder),
                 "--model_path", str(trained / "best_model" / "model.pdparams"),
                 "--save_dir", str(tmp_path / "out"), "--opts", *toy_opts(toy_root)])
    assert code == 1
    errors = capsys.readouterr().err
    assert f"skipped {folder / 'empty.png'}: empty file" in errors
    assert f"skipped {folder / 'text.jpg'}: not an image OpenCV can decode" in errors
    assert "5 images predicted, 2 skipped" in errors
    for name, array in good.items():
        label = cv2.imread(str(tmp_path / "out" / "pseudo_color_prediction" / name), cv2.IMREAD_UNCHANGED)
        assert label.shape[:2] == array.shape[:2], name
        assert (tmp_path / "out" / "added_prediction" / name).is_file()


def test_train_says_its_cpu_threads_first(toy_root, tmp_path, capsys):
    assert _train(toy_root, tmp_path, "--iters", "1", "--save_interval", "1", "--cpu_threads", "1") == 0
    first_log_line = next(line for line in capsys.readouterr().out.splitlines() if "[INFO]" in line)
    assert "CPU threads: 1 (requested)" in first_log_line


def test_train_refuses_a_thread_count_below_one(toy_root, tmp_path, capsys):
    with pytest.raises(SystemExit):
        _train(toy_root, tmp_path, "--cpu_threads", "0")
    assert "--cpu_threads: must be at least 1, got 0" in capsys.readouterr().err
