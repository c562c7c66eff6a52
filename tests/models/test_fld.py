import paddle
import pytest
from paddleseg.models.backbones import MobileNetV3_large_x1_0

from paddleseg_liteseg import FLD, SPPM


def test_decodes_deep_to_shallow_with_shrinking_channels():
    features = [paddle.randn([1, 64, 32, 48]), paddle.randn([1, 128, 16, 24]), paddle.randn([1, 256, 8, 12])]
    context = paddle.randn([1, 128, 8, 12])
    decoded = FLD([64, 128, 256], context_channels=128, out_channels=[32, 64, 128])(features, context)
    assert [list(f.shape) for f in decoded] == [[1, 32, 32, 48], [1, 64, 16, 24], [1, 128, 8, 12]]


@pytest.mark.parametrize("attention", ["spatial", "channel", "none"])
def test_attention_is_chosen_for_every_fusion(attention):
    decoder = FLD([8, 16], context_channels=16, out_channels=[8, 16], attention=attention)
    expected = {"spatial": "SpatialAttention", "channel": "ChannelAttention", "none": "NoneType"}[attention]
    assert [type(f.attention).__name__ for f in decoder.fusions] == [expected, expected]


def test_works_on_another_paddleseg_backbone():
    """SPPM and FLD only need ``feat_channels``: here MobileNetV3 instead of STDC."""
    backbone = MobileNetV3_large_x1_0()
    features = backbone(paddle.randn([1, 3, 96, 160]))[1:]
    channels = backbone.feat_channels[1:]
    context = SPPM(channels[-1])(features[-1])
    decoded = FLD(channels, context_channels=128, out_channels=[32, 64, 96])(features, context)
    assert [list(f.shape) for f in decoded] == [[1, 32, 12, 20], [1, 64, 6, 10], [1, 96, 3, 5]]


def test_channel_lists_must_agree():
    with pytest.raises(ValueError, match="one out_channels entry per input"):
        FLD([64, 128, 256], context_channels=128, out_channels=[32, 64])
