"""``--config`` and ``--opts`` as PaddleSeg's tools take them (a config may also be a shipped name),
built through the library's ``api.load``, and the device."""
import argparse

from ...api import default_device  # noqa: F401  (the commands' default device)


def add_config_argument(parser, required=True):
    parser.add_argument("--config", required=required, type=config_file,
                        help="A config file (.yml), or the name of a shipped config (`paddleseg configs` "
                             "lists them).")
    parser.add_argument("--opts", nargs="+", default=None, metavar="KEY=VALUE",
                        help="Update config keys, e.g. --opts batch_size=4 model.num_classes=2.")


def config_file(value):
    """The file ``--config`` names: a path as given, or a shipped config's file."""
    from ...errors import ConfigError
    from ...shipped_configs import resolve_config
    try:
        return resolve_config(value)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_device_argument(parser):
    parser.add_argument("--device", default=None, choices=["cpu", "gpu", "xpu", "npu", "mlu"],
                        help="Device to run on (default: gpu when Paddle sees one, else cpu).")


def load(args, sections=(), **overrides):
    """Return (Config, SegBuilder) for ``args.config`` with ``args.opts`` and ``overrides`` applied,
    checked before anything is built; ``sections``: the datasets whose files must exist."""
    from ...api import load as load_config
    return load_config(args.config, sections=sections, opts=args.opts, **overrides)


def dataset_pairs(builder, config, purpose, instead):
    """((image, label) paths, ignore_index) of the config's val (else train) dataset; where neither
    lists images, the error says they were wanted ``purpose`` and names ``instead``, the flags
    that give images otherwise."""
    from ...datasets.config_datasets import config_dataset
    from ...errors import ConfigError

    for name in ("val_dataset", "train_dataset"):
        dataset, _ = config_dataset(builder, name) if builder.config.dic.get(name) else (None, None)
        pairs = [tuple(pair[:2]) for pair in dataset.file_list] if dataset is not None else []
        if pairs:
            return pairs, dataset.ignore_index
    raise ConfigError(f"{config}: neither val_dataset nor train_dataset gives images {purpose}; pass {instead}")


def built_model(builder, model_path=None):
    """The config's model, holding the weights at ``model_path`` (either checkpoint layout) when given;
    the config's ``pretrained`` files are then not fetched (see ``api.model_with_weights``)."""
    from ...api import model_with_weights
    return model_with_weights(builder, model_path)


def set_device(args):
    from paddleseg.utils import utils
    args.device = args.device or default_device()
    utils.set_device(args.device)
