"""Shared fixtures."""
import paddle
import pytest

import paddleseg_liteseg  # noqa: F401  (registers the plugin, applies the Paddle 3 fixes)
from reference_models import build_official


@pytest.fixture(scope="session")
def official_t_checkpoint(tmp_path_factory):
    """An official-layout PP-LiteSeg-T checkpoint (19 classes) on disk, and the model it came from."""
    model = build_official("T")
    path = str(tmp_path_factory.mktemp("official") / "pp_liteseg_t.pdparams")
    paddle.save(model.state_dict(), path)
    return path, model
