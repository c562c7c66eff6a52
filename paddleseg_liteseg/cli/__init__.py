"""The ``paddleseg`` command: one subcommand a module, flags as in PaddleSeg's ``tools/*.py``."""
import argparse
import importlib
import sys

from ..errors import UserError

# (subcommand, module in this package, one-line help)
COMMANDS = [
    ("configs", "configs", "List the shipped configs (the names --config takes), their datasets and the paper's mIoU"),
    ("train", "train", "Train a model from a config (PaddleSeg's tools/train.py)"),
    ("val", "val", "Evaluate a model on the config's val_dataset (PaddleSeg's tools/val.py)"),
    ("predict", "predict", "Predict images and write colour overlays (PaddleSeg's tools/predict.py)"),
    ("check-data", "check_data", "Check a config, then every image and label of its datasets (missing, corrupt, mismatched, bad labels)"),
    ("prepare-dataset", "prepare_dataset", "Your images and masks (ids, binary, palette, RGB or LabelMe) -> labels, file lists, configs"),
    ("make-toy-data", "make_toy_data", "Write the seeded synthetic dataset used by the quick start"),
    ("prepare-cityscapes", "prepare_cityscapes", "Raw Cityscapes -> *_labelTrainIds.png and file lists"),
    ("prepare-camvid", "prepare_camvid", "SegNet's CamVid -> labels with void 255 and file lists"),
    ("convert-weights", "convert_weights", "Rewrite a PP-LiteSeg checkpoint in LiteSeg's or PaddleSeg's layout, as .pdparams or .safetensors"),
    ("weights", "weights", "List the official PP-LiteSeg weights by name, their URLs and what is cached"),
    ("export", "export", "Export for deployment: Paddle inference model, deploy.yaml, dynamic ONNX, int8 (PaddleSeg's tools/export.py)"),
    ("infer", "infer", "Segment images, videos or a camera with an exported model on Paddle Inference, onnxruntime or OpenVINO"),
    ("serve", "serve", "Serve an exported model over HTTP: PaddleX's protocol, PNG uploads, a page, metrics"),
    ("tune", "tune", "Time every runtime of an exported model here; record the fastest that agrees with fp32, a lossy one only where clearly faster (read by infer)"),
    ("bench", "bench", "Time a model on every runtime (optionally against PaddleSeg's PPLiteSeg), with params and FLOPs"),
]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="paddleseg", description="PP-LiteSeg on PaddleSeg: train, evaluate, predict, deploy.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name, help_text in COMMANDS:
        module = importlib.import_module(f"{__name__}.{module_name}")
        subparser = subparsers.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(subparser)
        subparser.set_defaults(run=module.run)
    return parser


def user_error_in(error):
    """The bad-input error behind ``error``: itself, or what PaddleSeg wrapped (its builder re-raises
    a part's error as a RuntimeError), or None for a bug, which keeps its traceback."""
    while error is not None:
        if isinstance(error, (UserError, FileNotFoundError)):
            return error
        error = error.__cause__ or error.__context__
    return None


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except Exception as error:
        cause = user_error_in(error)
        if cause is None:
            raise
        print(f"paddleseg {args.command}: error: {cause}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
