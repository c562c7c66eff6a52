"""``paddleseg check-data``: check a config, then read every image and label of its datasets and
print their per-class pixel histogram (with class names where the dataset has them)."""
import sys

from ..common.config_flags import add_config_argument


def add_arguments(parser):
    add_config_argument(parser)
    parser.add_argument("--max_samples", type=int, default=None,
                        help="Check this many randomly drawn samples of each dataset (default: all).")


def run(args):
    from paddleseg.cvlibs import SegBuilder

    from ...checks import DATASET_SECTIONS, check_dataset, load_config
    from ...errors import ConfigError, DatasetError

    config = load_config(args.config, opts=args.opts)
    builder = SegBuilder(config)
    failed = []
    for section in DATASET_SECTIONS:
        if config.dic.get(section) is None:
            continue
        try:
            dataset = builder.build_component(config.dic[section])
        except RuntimeError as error:  # PaddleSeg's builder wraps the dataset's own error
            raise ConfigError(f"{args.config}: {section}: {error.__context__ or error}") from None
        report = check_dataset(dataset, max_samples=args.max_samples, progress=sys.stderr.isatty())
        print(f"{section}: {report}")
        if report.statistics.labels:
            print("\n".join(report.histogram()))
        if not report.ok:
            failed.append(section)
    if failed:
        raise DatasetError(f"{args.config}: problems in {' and '.join(failed)}; see the report above")
