"""``paddleseg predict``: PaddleSeg's ``tools/predict.py`` with the plugin loaded."""
from .config import add_config_argument, add_device_argument, built_model, load, set_device
from .inference_options import add_test_time_arguments, test_config


def add_arguments(parser):
    add_config_argument(parser)
    add_device_argument(parser)
    parser.add_argument("--model_path", default=None,
                        help="Weights to predict with (.pdparams, this plugin's or PaddleSeg's PP-LiteSeg layout).")
    parser.add_argument("--image_path", required=True,
                        help="An image, a directory of images, or a file list of image paths.")
    parser.add_argument("--save_dir", default="./output/result", help="Where to write the predictions.")
    parser.add_argument("--custom_color", nargs="+", type=int, default=None,
                        help="Colour map as R G B R G B ... (default: PaddleSeg's).")
    add_test_time_arguments(parser, "--aug_pred")


def run(args):
    import sys

    from paddleseg.core import predict
    from paddleseg.transforms import Compose
    from paddleseg.utils import logger

    from ..image_files import ImageError, list_images, read_image

    config, builder = load(args)
    set_device(args)
    images, image_dir, skipped = list_images(args.image_path)
    if skipped:
        logger.info(f"Skipped {skipped} files without an image suffix in {args.image_path}")
    readable, failures = [], []
    for path in images:
        try:
            read_image(path)
            readable.append(path)
        except ImageError as error:
            failures.append(str(error))
    if readable:
        model = built_model(builder, args.model_path)
        predict(model, model_path=None, transforms=Compose(builder.val_transforms),
                image_list=readable, image_dir=image_dir, save_dir=args.save_dir,
                custom_color=args.custom_color, **test_config(config, args, "aug_pred"))
    for failure in failures:
        print(f"paddleseg predict: skipped {failure}", file=sys.stderr)
    if failures:
        print(f"paddleseg predict: {len(readable)} images predicted, {len(failures)} skipped", file=sys.stderr)
        return 1
