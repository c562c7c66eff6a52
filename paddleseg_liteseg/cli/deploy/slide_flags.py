"""PaddleSeg's sliding-window flags on an exported model (``infer``, ``serve``): which window, if any."""
from ..training.test_time_flags import add_sliding_arguments


def add_arguments(parser, batching):
    add_sliding_arguments(parser, "Slide a --crop_size window by --stride over each image, averaging the logits "
                                  f"where windows overlap (PaddleSeg's is_slide), {batching}; memory for the logits "
                                  "grows with the image's width only. Needs a model exported with --output_op none. "
                                  "Default: as deploy.yaml says (the config's test_config).")
    parser.add_argument("--no_slide", action="store_true", help="Do not slide, whatever deploy.yaml says.")


ARGUMENTS = {"crop_size": "--crop_size", "stride": "--stride", "output_op": "--output_op (of paddleseg export)"}


def window(args):
    """The window to slide, or None: --is_slide's (the sizes not given taken from deploy.yaml or the
    model's fixed shape), none with --no_slide, else the one deploy.yaml records (if any)."""
    from ...deploy.exporting.exported_model import ExportedModel
    from ...deploy.exporting.fixed_shape import fixed_size
    from ...deploy.exporting.model_files import INPUT_SHAPE_KEY
    from ...deploy.running.sliding_window import SlideWindow, recorded_window
    from ...errors import UserError

    if args.no_slide:
        return None
    model = ExportedModel.read(args.model_dir)
    if not args.is_slide:
        if args.crop_size or args.stride:
            raise UserError("--crop_size and --stride take effect with --is_slide")
        return recorded_window(model)
    recorded, size = recorded_window(model), fixed_size(model.get(INPUT_SHAPE_KEY))
    crop_size = args.crop_size or (recorded.crop_size if recorded else size and [size[1], size[0]])
    stride = args.stride or (recorded.stride if recorded else None)
    if not (crop_size and stride):
        raise UserError("--is_slide needs --crop_size W H and --stride W H (deploy.yaml records no window)")
    return SlideWindow(tuple(crop_size), tuple(stride))
