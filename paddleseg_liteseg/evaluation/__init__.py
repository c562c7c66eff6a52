"""Evaluations you can look at: PaddleSeg's ``evaluate`` observed in the same pass, and a report
(JSON, confusion matrix, class IoU chart, worst images, per-image scores, VisualDL pictures)."""
from .observer import EvaluationRecord, observe_evaluation  # noqa: F401
from .report import write_report  # noqa: F401
from .report_content import EvaluationReport, RunInfo  # noqa: F401
from .reporting import evaluate_and_report  # noqa: F401
from .training_reports import evaluation_iterations, training_reports  # noqa: F401
