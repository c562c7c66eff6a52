"""Build PaddleSeg's ``Config`` and ``SegBuilder`` the way PaddleSeg's tools do, and pick a device."""


def default_device():
    import paddle
    return "gpu" if paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0 else "cpu"


def add_config_argument(parser, required=True):
    parser.add_argument("--config", required=required, help="The path of the config file (.yml).")
    parser.add_argument("--opts", nargs="+", default=None, metavar="KEY=VALUE",
                        help="Update config keys, e.g. --opts batch_size=4 model.num_classes=2.")


def add_device_argument(parser):
    parser.add_argument("--device", default=None, choices=["cpu", "gpu", "xpu", "npu", "mlu"],
                        help="Device to run on (default: gpu when Paddle sees one, else cpu).")


def load(args, sections=(), **overrides):
    """Return (Config, SegBuilder) for ``args.config`` with ``args.opts`` and ``overrides`` applied,
    checked before anything is built; ``sections``: the datasets whose files must exist."""
    from paddleseg.cvlibs import SegBuilder

    from ..checks import load_config
    config = load_config(args.config, sections=sections, opts=args.opts, **overrides)
    return config, SegBuilder(config)


def built_model(builder, model_path=None):
    """The config's model, holding the weights at ``model_path`` (either checkpoint layout) when given.

    ``model_path`` replaces every tensor, so the config's ``pretrained`` weights (an ImageNet
    backbone's URL) are then not fetched: an offline deployment machine needs only ``model_path``.
    """
    from paddleseg.utils import logger

    from ..models.weights import load_pretrained
    if model_path:
        skipped = _drop_pretrained(builder.config.dic.get("model", {}))
        if skipped:
            logger.info(f"--model_path {model_path} gives the weights: not fetching "
                        + ", ".join(f"{key} ({value})" for key, value in skipped))
    model = builder.model
    if model_path:
        load_pretrained(model, model_path)
    return model


def _drop_pretrained(section, prefix="model"):
    """Set every ``pretrained`` in the model config (and its parts) to None; return [(key, value)]."""
    dropped = []
    for key, value in section.items():
        if key == "pretrained" and value:
            dropped.append((f"{prefix}.pretrained", value))
            section[key] = None
        elif isinstance(value, dict):
            dropped += _drop_pretrained(value, f"{prefix}.{key}")
    return dropped


def set_device(args):
    from paddleseg.utils import utils
    args.device = args.device or default_device()
    utils.set_device(args.device)
