"""The report's records: how a run was made, written with only the fields given (val's and train's
evaluations fill in different ones), and the JSON layout of ``evaluate_result.json``."""
import dataclasses

from paddleseg_liteseg.evaluation.report_content import ClassScores, EvaluationReport, RunInfo


def test_a_run_writes_only_the_fields_given_in_their_order():
    options = {"num_workers": 0, "is_slide": True}
    val = RunInfo(config="pp_liteseg_stdc1_camvid_960x720_10k", opts=["batch_size=2"], weights=None,
                  evaluate_options=options, config_values={"iters": 10})
    assert list(val.to_dict()) == ["config", "opts", "evaluate_options", "config_values"]
    assert val.to_dict()["evaluate_options"] is options
    training = dataclasses.replace(RunInfo(config="c.yml", precision="fp16"), iteration=2,
                                   weights="iter_2/model.pdparams")
    assert training.to_dict() == {"config": "c.yml", "weights": "iter_2/model.pdparams", "iteration": 2,
                                  "precision": "fp16"}
    assert RunInfo().to_dict() == {}


def test_the_report_is_written_in_evaluate_result_jsons_layout():
    report = EvaluationReport(images=2, miou=0.5, accuracy=0.75, kappa=0.4, dice=0.6,
                              classes=[ClassScores(0, "road", 0.5, 0.6, 0.7, 0.65, 30, 28)], pixels=30,
                              ignore_index=255, confusion=[[30]], worst_images=["worst_images/01_a.png"],
                              run=RunInfo(weights="w.pdparams"))
    assert report.to_dict() == {
        "images": 2, "mIoU": 0.5, "accuracy": 0.75, "kappa": 0.4, "dice": 0.6,
        "classes": [{"id": 0, "name": "road", "iou": 0.5, "precision": 0.6, "recall": 0.7, "dice": 0.65,
                     "ground_truth_pixels": 30, "predicted_pixels": 28}],
        "pixels": 30, "ignore_index": 255,
        "confusion_matrix": {"rows": "ground-truth class", "columns": "predicted class", "counts": [[30]]},
        "worst_images": ["worst_images/01_a.png"], "run": {"weights": "w.pdparams"}}
    assert list(report.to_dict()) == ["images", "mIoU", "accuracy", "kappa", "dice", "classes", "pixels",
                                      "ignore_index", "confusion_matrix", "worst_images", "run"]
