"""``paddleseg predict``: PaddleSeg's ``tools/predict.py`` with the plugin loaded."""
from .config import add_config_argument, add_device_argument, load, set_device
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
    from paddleseg.core import predict
    from paddleseg.transforms import Compose
    from paddleseg.utils import utils

    from ..models.weights import load_pretrained

    config, builder = load(args)
    set_device(args)
    model = builder.model
    if args.model_path:
        load_pretrained(model, args.model_path)
    image_list, image_dir = utils.get_image_list(args.image_path)
    predict(model, model_path=None, transforms=Compose(builder.val_transforms),
            image_list=image_list, image_dir=image_dir, save_dir=args.save_dir,
            custom_color=args.custom_color, **test_config(config, args, "aug_pred"))
