"""``paddleseg predict``: PaddleSeg's ``tools/predict.py`` with the plugin loaded."""
from ..common.config_flags import add_config_argument, add_device_argument, load, set_device
from .test_time_flags import add_test_time_arguments, test_config


def add_arguments(parser):
    add_config_argument(parser)
    add_device_argument(parser)
    parser.add_argument("--model_path", default=None,
                        help="Weights to predict with (.pdparams, this plugin's or PaddleSeg's PP-LiteSeg layout).")
    parser.add_argument("--image_path", required=True,
                        help="An image, a directory of images, or a file list of image paths.")
    parser.add_argument("--save_dir", default="./output/result", help="Where to write the predictions.")
    parser.add_argument("--custom_color", nargs="+", type=int, default=None,
                        help="Class colours as R G B R G B ... (default: the dataset's, else PaddleSeg's).")
    add_test_time_arguments(parser, "--aug_pred")


def run(args):
    import sys

    from paddleseg.utils import logger

    from ...image_files import list_images
    from ...predictions import segment_images
    from ...predictor import Predictor
    from ..common.flags import custom_palette, in_flag_terms

    config, _ = load(args)
    set_device(args)
    with in_flag_terms(paths={"--image_path": args.image_path}):
        images, image_dir, skipped = list_images(args.image_path)
    if skipped:
        logger.info(f"Skipped {skipped} files without an image suffix in {args.image_path}")
    predictor = Predictor(config, weights=args.model_path, test_config=test_config(config, args, "aug_pred"),
                          palette=custom_palette(args.custom_color))
    failures = segment_images(predictor, images, image_dir, args.save_dir)
    logger.info(f"Predicted images are saved in {args.save_dir}")
    for failure in failures:
        print(f"paddleseg predict: skipped {failure}", file=sys.stderr)
    if failures:
        print(f"paddleseg predict: {len(images) - len(failures)} images predicted, {len(failures)} skipped",
              file=sys.stderr)
        return 1
