"""``paddleseg val``: PaddleSeg's ``tools/val.py`` with the plugin loaded, and with ``--save_dir`` a
report of the evaluation (see ``paddleseg_liteseg.evaluation``)."""
import argparse

from ..common.config_flags import add_config_argument, add_device_argument, built_model, load, set_device
from .test_time_flags import add_test_time_arguments, test_config


def add_arguments(parser):
    add_config_argument(parser)
    add_device_argument(parser)
    parser.add_argument("--model_path", default=None,
                        help="Weights to evaluate (.pdparams, this plugin's or PaddleSeg's PP-LiteSeg layout).")
    parser.add_argument("--num_workers", type=int, default=0, help="Data loader worker processes.")
    parser.add_argument("--auc_roc", action="store_true", help="Also report AUC-ROC.")
    add_report_arguments(parser, "Write the evaluation's report here: evaluate_result.json, "
                                 "confusion_matrix.png, per_class_iou.png, worst_images/, per_image.csv.")
    add_test_time_arguments(parser, "--aug_eval")


def add_report_arguments(parser, save_dir_help=None):
    """``--worst_k`` (and ``--save_dir`` when ``save_dir_help`` is given): shared with ``train``."""
    if save_dir_help:
        parser.add_argument("--save_dir", default=None, help=save_dir_help)
    parser.add_argument("--worst_k", type=image_count, default=8,
                        help="How many of the lowest-mIoU images the report draws in worst_images/.")


def image_count(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: give 0 or more images")
    return value


def run(args):
    from paddleseg.core import evaluate
    from paddleseg.utils import logger, utils

    from ...checks import wrap_dataset
    from ...evaluation import RunInfo, evaluate_and_report

    config, builder = load(args, ("val_dataset",))
    utils.show_env_info()
    utils.show_cfg_info(config)
    set_device(args)
    model = built_model(builder, args.model_path)
    dataset = wrap_dataset(builder.val_dataset)
    options = dict(num_workers=args.num_workers, auc_roc=args.auc_roc, **test_config(config, args, "aug_eval"))
    if args.save_dir is None:
        evaluate(model, dataset, **options)
        return
    run_info = RunInfo(config=args.config, opts=args.opts, weights=args.model_path, evaluate_options=options,
                       config_values=config.dic)
    evaluation = evaluate_and_report(model, dataset, args.save_dir, args.worst_k, run=run_info, **options)
    if evaluation.report is not None:
        logger.info(f"[EVAL] Report written to {args.save_dir}")
