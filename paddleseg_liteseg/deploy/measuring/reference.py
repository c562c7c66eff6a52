"""PaddleSeg's own ``PPLiteSeg`` holding a LiteSeg's weights: the baseline that ``bench --reference`` times.

The twin is built from the LiteSeg's structure (a copy of its backbone, indices, SPPM bins and width, FLD
and head widths) and gets its tensors through the official key map of ``weights.py`` read
backwards, so both models compute the same function and only the implementation differs.
"""
import copy

import paddle
from paddleseg.models import PPLiteSeg

from ...errors import UserError
from ...models import LiteSeg
from ...weights.layouts import OFFICIAL_CONSTANT_ONE, convert_official


def official_twin(model):
    """A ``PPLiteSeg`` in eval mode with ``model``'s weights; ``model`` must be a spatial-attention LiteSeg."""
    if not isinstance(model, LiteSeg):
        raise UserError(f"--reference compares a LiteSeg with PaddleSeg's PPLiteSeg; this config "
                        f"builds {type(model).__name__}")
    fusions = model.decoder.fusions
    attentions = {type(fusion.attention).__name__ for fusion in fusions}
    inter_channels = {stage.conv._conv._out_channels for stage in model.context.stages}
    if attentions != {"SpatialAttention"} or inter_channels != {model.context.out_channels}:
        raise UserError("--reference needs spatial UAFM attention and SPPM inter_channels equal to "
                        "out_channels, the settings PaddleSeg's PPLiteSeg supports")
    twin = PPLiteSeg(
        model.num_classes, copy.deepcopy(model.backbone), backbone_indices=model.backbone_indices,
        arm_type="UAFM_SpAtten", cm_bin_sizes=[stage.bin_size for stage in model.context.stages],
        cm_out_ch=model.context.out_channels, arm_out_chs=model.decoder.out_channels,
        seg_head_inter_chs=[head.conv._conv._out_channels for head in model.heads],
        resize_mode=fusions[0].resize_mode)
    plugin_state = model.state_dict()
    twin_state = {}
    for key, value in twin.state_dict().items():
        if OFFICIAL_CONSTANT_ONE.match(key):
            twin_state[key] = value
        else:
            (plugin_key,) = convert_official({key: value})
            twin_state[key] = plugin_state[plugin_key]
    twin.set_state_dict(twin_state)
    twin.eval()
    return twin


def same_function(model, twin, shape=(1, 3, 64, 128), atol=1e-4):
    """Whether ``model`` and ``twin`` give the same logits on a random input (a cheap sanity check)."""
    x = paddle.randn(list(shape))
    with paddle.no_grad():
        return bool(paddle.allclose(model(x)[0], twin(x)[0], atol=atol))
