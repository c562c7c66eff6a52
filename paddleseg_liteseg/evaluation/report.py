"""Write an evaluation's report: ``evaluate_result.json``, the two plots, the worst images, a CSV.

mIoU, accuracy, class IoU, class precision and kappa are the values PaddleSeg's ``evaluate``
returned (and printed); recall and dice come from PaddleSeg's own metric functions applied to
the record's confusion matrix, which holds the same areas ``evaluate`` summed.
"""
import csv
import json
import math
import os
import re

from . import panels, plots
from .confusion import areas
from .observer import image_stem
from .report_content import ClassScores, EvaluationReport, RunInfo

RESULT_FILE = "evaluate_result.json"
CONFUSION_MATRIX_FILE = "confusion_matrix.png"
CLASS_IOU_FILE = "per_class_iou.png"
WORST_DIR = "worst_images"
PER_IMAGE_FILE = "per_image.csv"


def class_display_names(dataset, num_classes):
    """The dataset's class names (``datasets.class_info.class_names``), "class i" where it has none."""
    from ..datasets.class_info import class_names
    names = class_names(dataset) or []
    return [names[i] if i < len(names) else f"class {i}" for i in range(num_classes)]


def write_report(save_dir, record, result, names, colours, run=None):
    """Write the report of one evaluation into ``save_dir`` and return it (an ``EvaluationReport``,
    the JSON's content).

    Args:
        record (EvaluationRecord): what ``observe_evaluation`` gathered during the evaluation.
        result (tuple): what PaddleSeg's ``evaluate`` returned: (mIoU, accuracy, class IoU,
            class precision, kappa).
        names (list[str]): a name per class.
        colours (np.ndarray): (256, 3) RGB per class id (``panels.class_colours``).
        run (RunInfo): how the evaluation was made (config, weights, test-time options...).
    """
    from paddleseg.utils import metrics
    os.makedirs(save_dir, exist_ok=True)
    miou, accuracy, class_iou, class_precision, kappa = result
    _, _, class_recall = metrics.class_measurement(*areas(record.confusion))
    class_dice, mean_dice = metrics.dice(*areas(record.confusion))
    worst = record.worst()
    worst_files = {kept.index: f"{rank:02d}_{image_stem(kept)}.png" for rank, kept in enumerate(worst, 1)}
    report = EvaluationReport(
        images=len(record.images), miou=float(miou), accuracy=float(accuracy), kappa=float(kappa),
        dice=float(mean_dice),
        classes=[ClassScores(i, names[i], float(class_iou[i]), float(class_precision[i]), float(class_recall[i]),
                             float(class_dice[i]), int(record.confusion[i].sum()), int(record.confusion[:, i].sum()))
                 for i in range(record.num_classes)],
        pixels=int(record.confusion.sum()), ignore_index=int(record.ignore_index),
        confusion=record.confusion.tolist(),
        worst_images=[os.path.join(WORST_DIR, worst_files[kept.index]) for kept in worst], run=run or RunInfo())
    with open(os.path.join(save_dir, RESULT_FILE), "w") as file:
        file.write(_json_text(report.to_dict()))
    plots.save(plots.confusion_matrix_figure(record.confusion, names), os.path.join(save_dir, CONFUSION_MATRIX_FILE))
    plots.save(plots.class_iou_figure(class_iou, miou, names), os.path.join(save_dir, CLASS_IOU_FILE))
    _write_worst(os.path.join(save_dir, WORST_DIR), worst, worst_files, record, colours)
    _write_per_image(os.path.join(save_dir, PER_IMAGE_FILE), record.images, worst_files)
    return report


def _write_worst(directory, worst, worst_files, record, colours):
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):  # a previous report's pictures
        if name.endswith(".png"):
            os.remove(os.path.join(directory, name))
    scores = {score.index: score for score in record.images}
    for kept in worst:
        score = scores[kept.index]
        caption = f"mIoU {score.miou:.3f}  acc {score.accuracy:.3f}"
        panels.write_rgb(os.path.join(directory, worst_files[kept.index]),
                         panels.comparison_panel(kept, colours, record.ignore_index, caption))


def _write_per_image(path, images, worst_files):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["index", "image", "label", "miou", "accuracy", "pixels", "worst_image"])
        for score in sorted(images, key=lambda s: s.index):
            writer.writerow([score.index, score.image or "", score.label or "", _number(score.miou),
                             _number(score.accuracy), score.pixels, worst_files.get(score.index, "")])


def _json_text(content):
    """Indented JSON with each list of numbers (a confusion-matrix row) on one line."""
    text = json.dumps(content, indent=1, default=str)
    return _NUMBER_LIST.sub(lambda match: json.dumps(json.loads(match.group(0))), text) + "\n"


_NUMBER_LIST = re.compile(r"\[\n[-+\d\s,.eE]*\]")  # a newline cannot occur inside a JSON string


def _number(value):
    return "" if math.isnan(value) else f"{value:.6f}"

