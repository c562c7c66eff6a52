"""LiteSeg takes any image from 1x1 up: logits of exactly the input's size, finite.

The smallest input is 1x1, in eval and in training: STDC's stride-2 convolutions pad, so every
stage keeps at least one pixel, SPPM's adaptive pools and the FLD's upsampling accept 1x1 features,
and the heads' logits are resized back to the input. A 0-pixel side is refused by Paddle's
interpolation ("Each dimension size given in out_shape must be greater than 0").
"""
import numpy as np
import paddle
import pytest
from hypothesis import example, given, settings, strategies as st

from reference_models import build_plugin


@pytest.fixture(scope="module")
def model():
    paddle.seed(0)
    return build_plugin("T", num_classes=5)


@settings(max_examples=15, deadline=None)
@given(height=st.integers(1, 200), width=st.integers(1, 200), batch=st.integers(1, 2))
@example(height=1, width=1, batch=1)
@example(height=31, width=33, batch=1)
@example(height=1, width=200, batch=2)
def test_eval_logits_have_the_input_size_and_are_finite(model, height, width, batch):
    model.eval()
    with paddle.no_grad():
        logits = model(paddle.randn([batch, 3, height, width]))
    assert len(logits) == 1 and list(logits[0].shape) == [batch, 5, height, width]
    assert np.isfinite(logits[0].numpy()).all()


@pytest.mark.parametrize("height, width", [(1, 1), (7, 3)])
def test_training_takes_the_smallest_inputs_too(model, height, width):
    model.train()
    logits = model(paddle.randn([2, 3, height, width]))
    assert [list(logit.shape) for logit in logits] == [[2, 5, height, width]] * 3
    paddle.add_n([logit.mean() for logit in logits]).backward()
    assert all(np.isfinite(logit.numpy()).all() for logit in logits)


@pytest.mark.parametrize("shape", [[1, 3, 0, 16], [3, 16, 16]])
def test_impossible_shapes_are_named(model, shape):
    model.eval()
    with pytest.raises(ValueError, match=rf"takes images as \(N, C, H, W\) with H, W >= 1, got shape \{shape}"):
        model(paddle.zeros(shape))
