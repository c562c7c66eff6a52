"""The report files: the JSON holds evaluate's numbers, the pictures decode, the worst are the worst."""
import csv
import json

import cv2
import numpy as np
import pytest

from paddleseg_liteseg.evaluation import RunInfo, evaluate_and_report, plots
from paddleseg_liteseg.evaluation.panels import class_colours

PALETTE = [(10, 20, 30), (200, 0, 0), (0, 200, 0), (0, 0, 200), (200, 200, 0)]


@pytest.fixture
def reported(pixel_model, toy_val, tmp_path):
    toy_val.PALETTE = PALETTE
    evaluation = evaluate_and_report(pixel_model, toy_val, str(tmp_path), worst_k=3,
                                     run=RunInfo(weights="w.pdparams"), print_detail=False)
    return evaluation, tmp_path


def _rows(path):
    with open(path) as file:
        return list(csv.DictReader(file))


def test_the_json_holds_evaluates_numbers_and_the_class_names(reported):
    evaluation, directory = reported
    miou, accuracy, class_iou, class_precision, kappa = evaluation.result
    content = json.loads((directory / "evaluate_result.json").read_text())
    assert content == evaluation.report.to_dict()
    assert (content["mIoU"], content["accuracy"], content["kappa"]) == (miou, accuracy, kappa)
    assert [c["iou"] for c in content["classes"]] == list(class_iou)
    assert [c["precision"] for c in content["classes"]] == list(class_precision)
    assert [c["name"] for c in content["classes"]] == ["background", "box", "disc", "triangle", "star"]
    counts = np.array(content["confusion_matrix"]["counts"])
    assert np.array_equal(counts, evaluation.record.confusion) and counts.sum() == content["pixels"]
    assert [c["ground_truth_pixels"] for c in content["classes"]] == list(counts.sum(1))
    assert [c["recall"] for c in content["classes"]] == pytest.approx(
        list(np.diag(counts) / np.maximum(counts.sum(1), 1)))
    assert content["run"] == {"weights": "w.pdparams"} and content["images"] == 7


def test_the_plots_decode_at_their_sizes(reported, toy_val):
    _, directory = reported
    for name, size in (("confusion_matrix.png", plots.confusion_matrix_size(toy_val.num_classes)),
                       ("per_class_iou.png", plots.class_iou_size(toy_val.num_classes))):
        image = cv2.imread(str(directory / name), cv2.IMREAD_COLOR)
        assert image is not None and image.shape == (size[1], size[0], 3), name
        assert image.std() > 10  # something is drawn


def test_the_worst_images_are_the_lowest_scores_of_the_csv(reported):
    evaluation, directory = reported
    rows = _rows(directory / "per_image.csv")
    assert [int(row["index"]) for row in rows] == list(range(7))
    lowest = sorted(rows, key=lambda row: (float(row["miou"]), int(row["index"])))[:3]
    assert sorted(path.name for path in (directory / "worst_images").iterdir()) == \
        [row["worst_image"] for row in lowest]
    assert all(not row["worst_image"] for row in rows if row not in lowest)
    assert evaluation.report.worst_images == [f"worst_images/{row['worst_image']}" for row in lowest]


def test_a_worst_image_shows_image_truth_prediction_and_errors(reported):
    evaluation, directory = reported
    colours = class_colours(PALETTE, 255)
    kept = evaluation.record.worst()[0]
    panel = cv2.cvtColor(cv2.imread(str(directory / evaluation.report.worst_images[0])), cv2.COLOR_BGR2RGB)
    height, width = kept.label.shape
    assert panel.shape == (height, 4 * width, 3)
    image = cv2.cvtColor(cv2.imread(kept.image), cv2.COLOR_BGR2RGB)
    assert np.array_equal(panel[:, :width], image)
    assert np.array_equal(panel[:, width:2 * width], colours[kept.label])
    assert np.array_equal(colours[:5], np.array(PALETTE, np.uint8))
    assert np.array_equal(panel[:, 2 * width:3 * width], colours[kept.pred])
    errors = panel[20:, 3 * width:]  # below the caption
    wrong = (kept.pred != kept.label) & (kept.label != 255)
    assert np.array_equal(np.all(errors == (255, 0, 0), axis=-1), wrong[20:])


def test_a_second_report_replaces_the_worst_images(pixel_model, toy_val, tmp_path):
    evaluate_and_report(pixel_model, toy_val, str(tmp_path), worst_k=3, print_detail=False)
    evaluate_and_report(pixel_model, toy_val, str(tmp_path), worst_k=1, print_detail=False)
    assert len(list((tmp_path / "worst_images").iterdir())) == 1


def test_names_fall_back_to_class_i(pixel_model, toy_val, tmp_path):
    toy_val.dataset_root = str(tmp_path)  # no class_names.txt there
    report = evaluate_and_report(pixel_model, toy_val, str(tmp_path / "report"), print_detail=False).report
    assert [c.name for c in report.classes] == [f"class {i}" for i in range(toy_val.num_classes)]


def test_the_confusion_matrix_plot_names_19_classes_on_both_axes():
    names = [f"name{i}" for i in range(19)]
    figure = plots.confusion_matrix_figure(np.eye(19, dtype=int) * 5 + 1, names)
    axes = figure.axes[0]
    assert [label.get_text() for label in axes.get_xticklabels()] == names
    assert [label.get_text() for label in axes.get_yticklabels()] == names
    width, height = plots.confusion_matrix_size(19)
    assert plots.figure_rgb(figure).shape == (height, width, 3)
