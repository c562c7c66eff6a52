import numpy as np
import paddle
import pytest
import yaml
from paddleseg.cvlibs import Config, SegBuilder
from paddleseg.models.backbones import STDC1, MobileNetV3_large_x1_0, ResNet18_vd

from paddleseg_liteseg import FLD, LiteSeg

from reference_models import build_plugin


def _count(model):
    in_state_dict = sum(int(np.prod(v.shape)) for v in model.state_dict().values())
    trainable = sum(int(np.prod(p.shape)) for p in model.parameters() if not p.stop_gradient)
    return in_state_dict, trainable


@pytest.mark.parametrize("variant, expected", [
    # PaddleSeg's PPLiteSeg counts 8,153,205 / 12,384,469 in its state dict: 3 more, its frozen
    # UAFM ``_scale`` constants, which LiteSeg folds into the fusion formula.
    ("T", (8_153_202, 8_141_600)),
    ("B", (12_384_466, 12_366_464)),
])
def test_parameter_counts_match_paddleseg(variant, expected):
    assert _count(build_plugin(variant)) == expected


@pytest.mark.parametrize("height, width", [(64, 128), (97, 131), (33, 35)])
def test_training_returns_one_logit_per_stage_at_input_size(height, width):
    model = build_plugin("T", num_classes=5)
    model.train()
    logits = model(paddle.randn([2, 3, height, width]))
    assert [list(logit.shape) for logit in logits] == [[2, 5, height, width]] * 3


def test_eval_returns_one_logit():
    model = build_plugin("T", num_classes=5)
    model.eval()
    logits = model(paddle.randn([1, 3, 97, 131]))
    assert [list(logit.shape) for logit in logits] == [[1, 5, 97, 131]]


@pytest.mark.parametrize("backbone_class, indices", [(ResNet18_vd, [1, 2, 3]),
                                                     (MobileNetV3_large_x1_0, [1, 2, 3])])
def test_other_paddleseg_backbones(backbone_class, indices):
    model = LiteSeg(3, backbone_class(), backbone_indices=indices,
                    decoder=dict(out_channels=[32, 64, 96]), head_mid_channels=32)
    model.train()
    assert [list(logit.shape) for logit in model(paddle.randn([1, 3, 64, 96]))] == [[1, 3, 64, 96]] * 3


def test_two_stage_decoder_gives_two_logits():
    model = LiteSeg(4, STDC1(), backbone_indices=[3, 4], decoder=dict(out_channels=[64, 128]))
    model.train()
    assert len(model(paddle.randn([1, 3, 64, 64]))) == 2


def _write_config(tmp_path, model_cfg):
    """A complete PaddleSeg config around ``model_cfg`` (Config insists on every section)."""
    config = {
        "batch_size": 1, "iters": 1, "model": model_cfg,
        "train_dataset": {"type": "Dataset", "dataset_root": str(tmp_path), "mode": "train",
                          "train_path": str(tmp_path / "train.txt"),
                          "num_classes": model_cfg["num_classes"], "transforms": []},
        "optimizer": {"type": "SGD"},
        "lr_scheduler": {"type": "PolynomialDecay", "learning_rate": 0.01},
        "loss": {"types": [{"type": "CrossEntropyLoss"}], "coef": [1]},
    }
    path = tmp_path / "model.yml"
    path.write_text(yaml.safe_dump(config))
    return SegBuilder(Config(str(path)))


def test_builds_from_yaml_through_segbuilder(tmp_path):
    builder = _write_config(tmp_path, {
        "type": "LiteSeg", "num_classes": 7, "backbone": {"type": "STDC1"},
        "context": {"bin_sizes": [1, 3], "inter_channels": 64, "out_channels": 96},
        "decoder": {"out_channels": [32, 48, 96], "attention": "channel"},
        "head_mid_channels": [16, 16, 16]})
    model = builder.model
    assert isinstance(model, LiteSeg)
    assert [stage.bin_size for stage in model.context.stages] == [1, 3]
    assert type(model.decoder.fusions[0].attention).__name__ == "ChannelAttention"
    model.eval()
    assert model(paddle.randn([1, 3, 64, 64]))[0].shape == [1, 7, 64, 64]


def test_registered_parts_compose_from_yaml(tmp_path):
    """``type:`` keys build the parts first; LiteSeg checks that they fit the backbone."""
    builder = _write_config(tmp_path, {
        "type": "LiteSeg", "num_classes": 2, "backbone": {"type": "STDC1"},
        "context": {"type": "SPPM", "in_channels": 1024, "out_channels": 64},
        "decoder": {"type": "FLD", "in_channels": [256, 512, 1024], "context_channels": 64,
                    "out_channels": [32, 64, 64], "attention": "none"}})
    model = builder.model
    assert isinstance(model.decoder, FLD) and model.decoder.fusions[0].attention is None
    model.train()
    assert len(model(paddle.randn([1, 3, 64, 64]))) == 3


def test_official_pp_liteseg_config_still_builds(tmp_path):
    builder = _write_config(tmp_path, {"type": "PPLiteSeg", "num_classes": 2,
                                       "backbone": {"type": "STDC1"}})
    assert type(builder.model).__name__ == "PPLiteSeg"


def test_part_that_does_not_fit_the_backbone_is_named():
    context = LiteSeg.__init__.__globals__["SPPM"](512)
    with pytest.raises(ValueError, match=r"model\.context\.in_channels is 512 but this backbone needs 1024"):
        LiteSeg(2, STDC1(), context=context)


def test_derived_argument_in_part_config_is_named():
    with pytest.raises(ValueError, match=r"model\.decoder: \['in_channels'\]"):
        LiteSeg(2, STDC1(), decoder=dict(in_channels=[1, 2, 3], out_channels=[32, 64, 128]))
