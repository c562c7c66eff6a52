"""What the endpoints depend on, without a model: the API key and the model's readiness."""
from types import SimpleNamespace

import pytest
from starlette.datastructures import Headers

from paddleseg_liteseg.serving.request_images import RequestError
from paddleseg_liteseg.serving.routes import LOADING, authorized, bearer_token, loaded_model
from paddleseg_liteseg.serving.settings import ServeSettings


@pytest.mark.parametrize("header, token", [("Bearer s3cret", "s3cret"), ("bearer s3cret ", "s3cret"),
                                           ("Basic s3cret", ""), ("Bearer", ""), ("", "")])
def test_bearer_token_is_read_from_a_bearer_header_only(header, token):
    assert bearer_token(header) == token


def request_with(**headers):
    return SimpleNamespace(headers=Headers(headers))


def test_the_api_key_is_checked_only_where_one_is_set():
    open_settings = ServeSettings(model_dir="model")
    assert authorized(request_with(), open_settings) is None
    settings = ServeSettings(model_dir="model", api_key="s3cret")
    authorized(request_with(**{"x-api-key": "s3cret"}), settings)
    authorized(request_with(authorization="Bearer s3cret"), settings)
    for headers in ({}, {"x-api-key": "wrong"}, {"authorization": "Bearer wrong"}, {"authorization": "s3cret"}):
        with pytest.raises(RequestError, match="missing or wrong API key") as refused:
            authorized(request_with(**headers), settings)
        assert refused.value.status == 401


def request_to(service):
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(service=service)))


def test_the_model_is_refused_with_503_until_ready_saying_why():
    loading = SimpleNamespace(error=None, ready=False)
    with pytest.raises(RequestError, match="still loading") as refused:
        loaded_model(request_to(loading))
    assert refused.value.status == 503 and str(refused.value) == LOADING
    failed = SimpleNamespace(error=FileNotFoundError("model.onnx"), ready=False)
    with pytest.raises(RequestError, match="the model failed to load: model.onnx") as refused:
        loaded_model(request_to(failed))
    assert refused.value.status == 503
    ready = SimpleNamespace(error=None, ready=True)
    assert loaded_model(request_to(ready)) is ready
