"""Test-time flags shared by ``val`` and ``predict`` (multi-scale/flip and sliding window)."""
from ...errors import UserError


def add_test_time_arguments(parser, aug_flag):
    parser.add_argument(aug_flag, action="store_true", help="Multi-scale and flip augmentation.")
    parser.add_argument("--scales", nargs="+", type=float, default=1.0,
                        help="Scales for augmentation, e.g. --scales 0.75 1.0 1.25.")
    parser.add_argument("--flip_horizontal", action="store_true", help="Add horizontally flipped inputs.")
    parser.add_argument("--flip_vertical", action="store_true", help="Add vertically flipped inputs.")
    add_sliding_arguments(parser)


def add_sliding_arguments(parser, slide_help="Infer in sliding windows."):
    """PaddleSeg's sliding-window flags (``val``, ``predict``, ``infer``)."""
    parser.add_argument("--is_slide", action="store_true", help=slide_help)
    parser.add_argument("--crop_size", nargs=2, type=int, default=None, metavar=("W", "H"),
                        help="Sliding window size, width then height.")
    parser.add_argument("--stride", nargs=2, type=int, default=None, metavar=("W", "H"),
                        help="Sliding window stride, width then height.")


def test_config(config, args, aug_key):
    """The config's ``test_config`` updated by the command line, as PaddleSeg's tools merge them."""
    merged = config.test_config
    merged.pop("aug_eval" if aug_key == "aug_pred" else "aug_pred", None)
    if getattr(args, aug_key):
        merged.update({aug_key: True, "scales": args.scales, "flip_horizontal": args.flip_horizontal,
                       "flip_vertical": args.flip_vertical})
    if args.is_slide:
        if not args.crop_size or not args.stride:
            raise UserError("--is_slide needs --crop_size W H and --stride W H")
        merged.update({"is_slide": True, "crop_size": args.crop_size, "stride": args.stride})
    return merged
