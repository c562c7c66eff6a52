"""``paddleseg val``: PaddleSeg's ``tools/val.py`` with the plugin loaded."""
from .config import add_config_argument, add_device_argument, built_model, load, set_device
from .inference_options import add_test_time_arguments, test_config


def add_arguments(parser):
    add_config_argument(parser)
    add_device_argument(parser)
    parser.add_argument("--model_path", default=None,
                        help="Weights to evaluate (.pdparams, this plugin's or PaddleSeg's PP-LiteSeg layout).")
    parser.add_argument("--num_workers", type=int, default=0, help="Data loader worker processes.")
    parser.add_argument("--auc_roc", action="store_true", help="Also report AUC-ROC.")
    add_test_time_arguments(parser, "--aug_eval")


def run(args):
    from paddleseg.core import evaluate
    from paddleseg.utils import utils

    from ..checks import wrap_dataset

    config, builder = load(args, ("val_dataset",))
    utils.show_env_info()
    utils.show_cfg_info(config)
    set_device(args)
    model = built_model(builder, args.model_path)
    evaluate(model, wrap_dataset(builder.val_dataset), num_workers=args.num_workers, auc_roc=args.auc_roc,
             **test_config(config, args, "aug_eval"))
