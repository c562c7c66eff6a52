"""What ``evaluate_result.json`` holds: an evaluation's numbers, a row per class, and how the
evaluation was made (``RunInfo``: ``val`` and the evaluations during ``train`` fill in the same
fields). ``EvaluationReport.to_dict`` is the JSON."""
import dataclasses


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """How an evaluation was made: the config and its ``--opts``, the weights, an evaluation during
    training's iteration and precision, ``evaluate``'s options (test-time augmentation, workers...)
    and the config's values. A field not given (None) is left out of the report."""

    config: str | None = None
    opts: list | None = None
    weights: str | None = None
    iteration: int | None = None
    precision: str | None = None
    evaluate_options: dict | None = None
    config_values: dict | None = None

    def to_dict(self):
        """The fields given, in their order (values as they are, not copied)."""
        fields = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        return {name: value for name, value in fields.items() if value is not None}


@dataclasses.dataclass(frozen=True)
class ClassScores:
    """One class: its IoU, precision, recall and dice, and its pixels in the labels and the predictions."""

    id: int
    name: str
    iou: float
    precision: float
    recall: float
    dice: float
    ground_truth_pixels: int
    predicted_pixels: int


@dataclasses.dataclass(frozen=True)
class EvaluationReport:
    """One evaluation: its images and pixels, mIoU, accuracy, kappa and mean dice, a ``ClassScores``
    per class, the confusion matrix (counts, rows the ground-truth class, columns the predicted
    one), the worst images' pictures (paths within the report) and the ``RunInfo``."""

    images: int
    miou: float
    accuracy: float
    kappa: float
    dice: float
    classes: list
    pixels: int
    ignore_index: int
    confusion: list
    worst_images: list
    run: RunInfo

    def to_dict(self):
        return {"images": self.images, "mIoU": self.miou, "accuracy": self.accuracy, "kappa": self.kappa,
                "dice": self.dice, "classes": [dataclasses.asdict(scores) for scores in self.classes],
                "pixels": self.pixels, "ignore_index": self.ignore_index,
                "confusion_matrix": {"rows": "ground-truth class", "columns": "predicted class",
                                     "counts": self.confusion},
                "worst_images": self.worst_images, "run": self.run.to_dict()}

