"""PaddleSeg's ``evaluate``, observed, and its report written: what ``val --save_dir`` and the
evaluations during ``train --do_eval`` run."""
from dataclasses import dataclass

from .observer import observe_evaluation
from .panels import class_colours
from .report import class_display_names, write_report
from .report_content import EvaluationReport


@dataclass
class Evaluation:
    """An evaluation's result as PaddleSeg's evaluate returned it, its record, and its report."""
    result: tuple
    record: object
    report: EvaluationReport | None  # None in processes other than the first, which do not write it


def evaluate_and_report(model, dataset, save_dir, worst_k=8, run=None, evaluate=None, **evaluate_kwargs):
    """Run ``evaluate`` (default PaddleSeg's) on ``dataset`` and write its report into ``save_dir``.

    With several processes every one must call this; the first writes the report.

    Args:
        worst_k (int): how many of the lowest-scoring images to draw.
        run (RunInfo): how the evaluation was made, stored in the JSON.
        evaluate_kwargs: ``evaluate``'s own arguments (test-time options, num_workers...).
    """
    import paddle
    from paddleseg.core import evaluate as paddleseg_evaluate

    from ..datasets.class_info import palette
    with observe_evaluation(dataset, worst_k) as record:
        result = (evaluate or paddleseg_evaluate)(model, dataset, **evaluate_kwargs)
    record.gather()
    report = None
    if paddle.distributed.get_rank() == 0:
        report = write_report(save_dir, record, result, class_display_names(dataset, record.num_classes),
                              class_colours(palette(dataset), record.ignore_index), run)
    return Evaluation(result, record, report)
