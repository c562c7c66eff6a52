"""The int8 scores deploy.yaml records: written and read back as ``Int8Score``, in the layout older
exports wrote."""
import yaml

from paddleseg_liteseg.deploy import ExportedModel
from paddleseg_liteseg.deploy.exporting.model_files import INT8_SCORES_KEY
from paddleseg_liteseg.deploy.int8.int8_scores import Int8Score, scores_from_dict, scores_to_dict

OLDER_EXPORT = """\
Deploy:
  model: model.json
  params: model.pdiparams
  transforms:
  - type: Normalize
  onnx: model.onnx
  onnx_int8: model_int8_conv.onnx
  int8_calibration:
    onnxruntime:
      model.onnx:
        agreement: 1.0
        ms: 12.5
      model_int8.onnx:
        agreement: 0.97312
        ms: 6.1
      model_int8_conv.onnx:
        agreement: 0.99504
        ms: 7.02
"""


def test_an_older_exports_scores_read_as_int8_scores(tmp_path):
    (tmp_path / "deploy.yaml").write_text(OLDER_EXPORT)
    scores = scores_from_dict(ExportedModel.read(tmp_path).get(INT8_SCORES_KEY))
    assert scores == {"onnxruntime": {"model.onnx": Int8Score(1.0, 12.5),
                                      "model_int8.onnx": Int8Score(agreement=0.97312, ms=6.1),
                                      "model_int8_conv.onnx": Int8Score(agreement=0.99504, ms=7.02)}}
    assert scores_to_dict(scores) == yaml.safe_load(OLDER_EXPORT)["Deploy"][INT8_SCORES_KEY]


def test_scores_written_to_deploy_yaml_read_back_the_same(tmp_path):
    scores = {"openvino": {"model.onnx": Int8Score(1.0, 9.0), "model_int8_nncf.onnx": Int8Score(0.992, 4.5)}}
    ExportedModel(tmp_path, {"model": "model.json", "params": "model.pdiparams", "transforms": [],
                             INT8_SCORES_KEY: scores_to_dict(scores)}).write()
    assert scores_from_dict(ExportedModel.read(tmp_path).get(INT8_SCORES_KEY)) == scores
    assert scores_from_dict(None) == {}
