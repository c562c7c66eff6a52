"""A report for every evaluation PaddleSeg's ``train`` runs: ``SAVE_DIR/eval/iter_N/``, the best
one copied to ``SAVE_DIR/eval/best/``, and with VisualDL the pictures in ``SAVE_DIR/eval/vdl``.

``paddleseg.core.train`` calls ``evaluate`` (imported into its module) at every ``save_interval``
and at the last iteration, without saying which; the iterations follow from the schedule, as
PaddleSeg's loop computes them. An EMA model's evaluation (the second at an iteration) goes to
``iter_N/ema/``. The best report follows PaddleSeg's ``best_model``: the first highest mIoU.
"""
import contextlib
import dataclasses
import importlib
import os
import shutil

from ..compat import patched
from .panels import class_colours
from .report_content import RunInfo
from .reporting import evaluate_and_report

EVAL_DIR = "eval"
BEST_DIR = "best"
VISUALDL_DIR = "vdl"


def evaluation_iterations(start_iter, iters, save_interval):
    """The iterations at which PaddleSeg's train loop evaluates, in order."""
    return [i for i in range(start_iter + 1, iters + 1) if i % save_interval == 0 or i == iters]


@contextlib.contextmanager
def training_reports(save_dir, model, iterations, worst_k=8, use_vdl=False, run=None):
    """Within the block, each evaluation by ``paddleseg.core.train`` also writes its report.

    Args:
        model: the model being trained (any other evaluated model is its EMA copy).
        iterations (list[int]): the iterations of the evaluations (``evaluation_iterations``).
        run (RunInfo): stored in every report; each adds its ``iteration``, ``weights`` and
            ``evaluate_options``.
    """
    import paddle

    from ..datasets.class_info import palette
    train_module = importlib.import_module("paddleseg.core.train")  # the attribute is the function
    evaluate = train_module.evaluate
    pending = iter(iterations)
    state = {"iteration": None, "best_miou": float("-inf")}
    first_process = paddle.distributed.get_rank() == 0
    log = None
    if use_vdl and first_process:
        from .visualdl_log import EvaluationLog
        log = EvaluationLog(os.path.join(save_dir, EVAL_DIR, VISUALDL_DIR))

    def reported_evaluate(evaluated_model, dataset, **kwargs):
        ema = evaluated_model is not model
        if not ema:
            state["iteration"] = next(pending)
        iteration = state["iteration"]
        report_dir = os.path.join(save_dir, EVAL_DIR, f"iter_{iteration}", *(["ema"] if ema else []))
        weights = os.path.join(save_dir, f"iter_{iteration}", "ema_model.pdparams" if ema else "model.pdparams")
        evaluation = evaluate_and_report(evaluated_model, dataset, report_dir, worst_k, evaluate=evaluate,
                                         run=dataclasses.replace(run or RunInfo(), iteration=iteration,
                                                                 weights=weights, evaluate_options=kwargs),
                                         **kwargs)
        if first_process and not ema:
            if evaluation.result[0] > state["best_miou"]:
                state["best_miou"] = evaluation.result[0]
                best_dir = os.path.join(save_dir, EVAL_DIR, BEST_DIR)
                shutil.rmtree(best_dir, ignore_errors=True)
                shutil.copytree(report_dir, best_dir)
            if log is not None:
                log.add(evaluation, report_dir, class_colours(palette(dataset), dataset.ignore_index), iteration)
        return evaluation.result

    try:
        with patched(train_module, "evaluate", reported_evaluate):
            yield
    finally:
        if log is not None:
            log.close()
