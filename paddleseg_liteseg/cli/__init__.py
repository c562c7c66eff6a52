"""The ``paddleseg`` command: one subcommand a module, flags as in PaddleSeg's ``tools/*.py``.

Subcommands live by area (``training``, ``data``, ``deploy``); what they share is in ``common``."""
import argparse
import importlib
import sys

from ..errors import UserError

# (subcommand, its module in this package (by area: training, data, deploy), one-line help)
COMMANDS = [
    ("configs", "training.configs", "List the shipped configs (the names --config takes), their datasets and the paper's mIoU"),
    ("train", "training.train", "Train a model from a config (PaddleSeg's tools/train.py)"),
    ("val", "training.val", "Evaluate a model on the config's val_dataset (PaddleSeg's tools/val.py)"),
    ("predict", "training.predict", "Predict images and write colour overlays (PaddleSeg's tools/predict.py)"),
    ("check-data", "data.check_data", "Check a config, then every image and label of its datasets (missing, corrupt, mismatched, bad labels)"),
    ("prepare-dataset", "data.prepare_dataset", "Your images and masks (ids, binary, palette, RGB or LabelMe) -> labels, file lists, configs"),
    ("make-toy-data", "data.make_toy_data", "Write the seeded synthetic dataset used by the quick start"),
    ("prepare-cityscapes", "data.prepare_cityscapes", "Raw Cityscapes -> *_labelTrainIds.png and file lists"),
    ("prepare-camvid", "data.prepare_camvid", "SegNet's CamVid -> labels with void 255 and file lists"),
    ("convert-weights", "training.convert_weights", "Rewrite a PP-LiteSeg checkpoint in LiteSeg's or PaddleSeg's layout, as .pdparams or .safetensors"),
    ("weights", "training.weights", "List the official PP-LiteSeg weights by name, their URLs and what is cached"),
    ("export", "deploy.export", "Export for deployment: Paddle inference model, deploy.yaml, dynamic ONNX, int8 (PaddleSeg's tools/export.py)"),
    ("infer", "deploy.infer", "Segment images, videos or a camera with an exported model on Paddle Inference, onnxruntime or OpenVINO"),
    ("serve", "deploy.serve", "Serve an exported model over HTTP: PaddleX's protocol, PNG uploads, a page, metrics"),
    ("tune", "deploy.tune", "Time every runtime of an exported model here; record the fastest that agrees with fp32, a lossy one only where clearly faster (read by infer)"),
    ("bench", "deploy.bench", "Time a model on every runtime (optionally against PaddleSeg's PPLiteSeg), with params and FLOPs"),
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
