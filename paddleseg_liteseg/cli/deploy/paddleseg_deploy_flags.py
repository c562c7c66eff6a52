"""PaddleSeg's ``deploy/python/infer.py`` flags on ``paddleseg infer``, so its scripts and TIPC lines run unchanged.

``--config DIR/deploy.yaml`` names the model directory. The Paddle Inference settings
(``--enable_mkldnn``, ``--use_trt``, ``--min_subgraph_size``) select the
``paddle`` backend under ``--backend auto``, as PaddleSeg's script always runs Paddle Inference.
A flag that cannot apply to this run (TensorRT on CPU, oneDNN on another backend) stops the
command with a message; none is ignored silently.
"""
import os

from ...deploy.exporting.exported_model import ExportedModel
from ...deploy.exporting.model_files import DEPLOY_FILE
from ...errors import UserError

PADDLESEG_TUNED_SHAPE_FILE = "auto_tune_tmp.pbtxt"  # PaddleSeg's default for --auto_tuned_shape_file


def true_or_false(text):
    """PaddleSeg's ``type=eval`` booleans: True/False (any case), also 1/0."""
    value = {"true": True, "1": True, "false": False, "0": False}.get(str(text).strip().lower())
    if value is None:
        raise ValueError(text)
    return value


true_or_false.__name__ = "True|False"  # argparse names the type in its error message


def add_arguments(parser):
    group = parser.add_argument_group("PaddleSeg deploy/python/infer.py flags")
    group.add_argument("--config", dest="deploy_config", default=None, metavar="DIR/deploy.yaml",
                       help="DIR/deploy.yaml of an exported model (the same as --model_dir DIR).")
    group.add_argument("--enable_mkldnn", type=true_or_false, default=None, metavar="True|False",
                       help="Paddle Inference's oneDNN on CPU (selects the paddle backend).")
    group.add_argument("--use_trt", type=true_or_false, default=None, metavar="True|False",
                       help="TensorRT in Paddle Inference (GPU only; selects the paddle backend).")
    group.add_argument("--min_subgraph_size", type=int, default=None,
                       help="Smallest subgraph TensorRT takes (with --use_trt True).")
    group.add_argument("--enable_auto_tune", type=true_or_false, default=None, metavar="True|False",
                       help="TensorRT dynamic-shape collection (not supported: export a fixed --input_shape).")
    group.add_argument("--auto_tuned_shape_file", default=None,
                       help="Shape file of --enable_auto_tune (not supported, as that flag).")
    group.add_argument("--with_argmax", action="store_true",
                       help="Accepted as is: the written labels are always the argmax of the model's output.")
    group.add_argument("--print_detail", type=true_or_false, default=None, metavar="True|False",
                       help="Show Paddle Inference's own log (with the paddle backend).")
    group.add_argument("--benchmark", type=true_or_false, default=False, metavar="True|False",
                       help="Print a timing summary after the run.")
    group.add_argument("--model_name", default="", help="The model's name in the --benchmark summary.")
    group.add_argument("--save_log_path", default=None, help="Also write the --benchmark summary to this file.")


def apply(args):
    """Fold the PaddleSeg flags into ``args`` (``model_dir``, ``backend``); return (runtime options, notes).

    The options go to the Paddle Inference runtime; the notes are lines for the user.
    """
    notes, paddle_options = [], {}
    _model_dir(args)
    on_gpu = args.device == "gpu"
    if args.enable_mkldnn is not None:
        if args.enable_mkldnn and on_gpu:
            raise UserError("--enable_mkldnn True is a CPU setting, but this run is on gpu")
        paddle_options["onednn"] = args.enable_mkldnn
    if args.use_trt:
        if not on_gpu:
            raise UserError(f"--use_trt True: TensorRT runs on NVIDIA GPUs, but this run is on {args.device} "
                            "(use --device gpu, or --use_trt False)")
        paddle_options["tensorrt"] = True
    elif args.use_trt is False and on_gpu:
        paddle_options["tensorrt"] = False
    if args.min_subgraph_size is not None:
        if not args.use_trt:
            raise UserError("--min_subgraph_size sizes TensorRT subgraphs; it needs --use_trt True")
        paddle_options["min_subgraph_size"] = args.min_subgraph_size
    if args.enable_auto_tune:
        raise UserError("--enable_auto_tune True (TensorRT shape collection) is not supported by paddleseg "
                        "infer: export with a fixed `paddleseg export --input_shape`, which TensorRT takes "
                        "as it is")
    if args.auto_tuned_shape_file not in (None, PADDLESEG_TUNED_SHAPE_FILE):
        raise UserError("--auto_tuned_shape_file belongs to --enable_auto_tune True, which is not supported")
    if args.save_log_path and not args.benchmark:
        raise UserError("--save_log_path writes the --benchmark True summary; add --benchmark True")
    if args.model_name and not args.benchmark:
        notes.append("--model_name only labels the --benchmark True summary")
    if paddle_options:
        flags = ", ".join("--" + {"onednn": "enable_mkldnn", "tensorrt": "use_trt"}.get(name, name)
                          for name in paddle_options)
        if args.backend == "auto":
            args.backend = "paddle"
            notes.append(f"{flags}: Paddle Inference settings, so the paddle backend runs")
        elif args.backend != "paddle":
            raise UserError(f"{flags} set Paddle Inference, but --backend is {args.backend}; "
                            "drop them or use --backend paddle")
    if args.print_detail:
        if args.backend == "paddle":
            paddle_options["glog"] = True
        else:
            notes.append("--print_detail True shows Paddle Inference's log; other backends have none "
                         "(--backend paddle to see it)")
    return paddle_options, notes


def _model_dir(args):
    """``args.model_dir`` from ``--model_dir`` or PaddleSeg's ``--config DIR/deploy.yaml``, checked
    to hold a ``deploy.yaml`` before any image is looked at."""
    if args.deploy_config is None:
        if args.model_dir is None:
            raise UserError("give --model_dir DIR (or PaddleSeg's --config DIR/deploy.yaml)")
        ExportedModel.read(args.model_dir)
        return
    path = args.deploy_config
    if os.path.basename(path) != DEPLOY_FILE:
        raise UserError(f"--config {path}: paddleseg infer reads the {DEPLOY_FILE} that `paddleseg export` "
                        "writes; name its model directory's deploy.yaml (or give --model_dir)")
    if not os.path.isfile(path):
        raise UserError(f"--config {path}: file not found")
    folder = os.path.dirname(path) or "."
    if args.model_dir is not None and os.path.abspath(args.model_dir) != os.path.abspath(folder):
        raise UserError(f"--config {path} and --model_dir {args.model_dir} name different models; give one")
    ExportedModel.read(folder)
    args.model_dir = folder
