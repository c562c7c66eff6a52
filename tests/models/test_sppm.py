import numpy as np
import paddle
import pytest
from paddleseg.models.pp_liteseg import PPContextModule

from paddleseg_liteseg import SPPM
from paddleseg_liteseg.weights.layouts import convert_official


@pytest.mark.parametrize("height, width", [(16, 32), (7, 11), (1, 1), (5, 3)])
def test_output_keeps_input_resolution(height, width):
    out = SPPM(32, inter_channels=16, out_channels=8)(paddle.randn([2, 32, height, width]))
    assert out.shape == [2, 8, height, width]


@pytest.mark.parametrize("bin_sizes", [[1, 2, 4], [1, 3, 6], [2]])
def test_matches_paddleseg_context_module(bin_sizes):
    """Same numbers as PaddleSeg's PPContextModule, also where H and W are not multiples of the bins."""
    paddle.seed(0)
    reference = PPContextModule(32, 16, 8, bin_sizes)
    module = SPPM(32, 16, 8, bin_sizes=bin_sizes)
    official = {"ppseg_head.cm." + key: value for key, value in reference.state_dict().items()}
    state = {key[len("context."):]: value for key, value in convert_official(official).items()}
    assert set(state) == set(module.state_dict())
    module.set_state_dict(state)
    module.eval(), reference.eval()
    for shape in ([2, 32, 16, 32], [1, 32, 7, 13]):
        x = paddle.randn(shape)
        np.testing.assert_allclose(module(x).numpy(), reference(x).numpy(), atol=1e-5)


def test_has_one_branch_per_bin():
    module = SPPM(32, bin_sizes=[1, 2, 3, 6])
    assert [stage.bin_size for stage in module.stages] == [1, 2, 3, 6]


def test_empty_bins_are_rejected():
    with pytest.raises(ValueError, match="bin size"):
        SPPM(32, bin_sizes=[])
