"""Every answer is one of PaddleX's two envelopes, built in one place and checked as it is built."""
import json

import numpy as np
import pydantic
import pytest

from paddleseg_liteseg.serving.paddlex_protocol import InferResult, ResultResponse
from paddleseg_liteseg.serving.responses import Readiness, class_shares, label_map_result, no_result, with_result


def test_a_result_is_wrapped_in_paddlex_success_envelope_of_its_type():
    envelope = with_result("log", InferResult(labelMap=[0, 3], size=[1, 2]))
    assert type(envelope) is ResultResponse[InferResult]  # the class a route's response_model names
    assert envelope.model_dump() == {"logId": "log", "errorCode": 0, "errorMsg": "Success",
                                     "result": {"labelMap": [0, 3], "size": [1, 2], "image": None}}
    readiness = Readiness(backend="onnxruntime", precision="fp32", reason="tuned", batching="off",
                          apiKeyRequired=False)
    assert with_result("log", readiness, "Ready").errorMsg == "Ready"


def test_the_label_map_answer_is_the_declared_envelope():
    labels = np.array([[0, 3, 255]], dtype=np.uint8)
    answer = ResultResponse[InferResult].model_validate_json(label_map_result("log", labels, "b64").body)
    assert answer.model_dump() == {"logId": "log", "errorCode": 0, "errorMsg": "Success",
                                   "result": {"labelMap": [0, 3, 255], "size": [1, 3], "image": "b64"}}


def test_a_result_that_breaks_its_schema_is_refused_as_it_is_built():
    with pytest.raises(pydantic.ValidationError, match="labelMap"):
        InferResult(labelMap=["road"], size=[1, 1])


@pytest.mark.parametrize("code, status", [(0, 200), (413, 413), (503, 503)])
def test_no_result_answers_the_error_code_as_http_status(code, status):
    response = no_result("log", code, "why")
    assert response.status_code == status
    assert json.loads(response.body) == {"logId": "log", "errorCode": code, "errorMsg": "why"}


def test_class_shares_name_colour_and_share_each_class_present_largest_first():
    labels = np.array([[2, 2, 2, 0]], dtype=np.uint8)
    shares = class_shares(labels, ["road", "sky"], list(range(256 * 3)))
    assert shares == [{"id": 2, "name": "2", "color": [6, 7, 8], "share": 0.75},
                      {"id": 0, "name": "road", "color": [0, 1, 2], "share": 0.25}]
