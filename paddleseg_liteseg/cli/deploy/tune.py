"""``paddleseg tune``: time every runtime of an exported model here, record the fastest that stays correct
(a lossy one only where it is clearly faster)."""

PERCENT = 100  # the command line takes the mIoU drop in percentage points; the library, as a fraction


def add_tune_arguments(parser):
    """The limits and images of a tuning run (``tune`` and ``export --tune``)."""
    from ...deploy.int8.agreement import MAX_MIOU_DROP, MIN_AGREEMENT
    from ...deploy.measuring.tune import MAX_ROUNDS, MAX_SECONDS, MIN_LOSSY_GAIN, MIN_ROUNDS, TUNING_IMAGES

    parser.add_argument("--min_agreement", type=float, default=MIN_AGREEMENT,
                        help=f"Smallest share of pixels equal to fp32's a runtime may have (default {MIN_AGREEMENT}).")
    parser.add_argument("--max_miou_drop_points", "--max_miou_drop", type=float, default=PERCENT * MAX_MIOU_DROP,
                        help=f"mIoU a runtime may lose against fp32 where labels are given, in percentage points "
                             f"(75.0 to 74.5 is 0.5; default {PERCENT * MAX_MIOU_DROP:g}).")
    parser.add_argument("--tune_labels", default=None,
                        help="A file list of 'image label' lines (relative to the list's folder): images to "
                             "tune on, with labels for mIoU.")
    parser.add_argument("--tune_num", type=int, default=TUNING_IMAGES,
                        help=f"Images to tune on (default {TUNING_IMAGES}).")
    parser.add_argument("--tune_repeats", type=int, default=MIN_ROUNDS,
                        help=f"Timed rounds at least (default {MIN_ROUNDS}); then more until it is clear whether a lossy "
                             f"runtime (int8, bf16) beats exact fp32 by more than the noise and by "
                             f"{100 * MIN_LOSSY_GAIN:g}%%, up to --tune_max_repeats or --tune_seconds.")
    parser.add_argument("--tune_max_repeats", type=int, default=MAX_ROUNDS,
                        help=f"Timed rounds at most (default {MAX_ROUNDS}).")
    parser.add_argument("--tune_seconds", type=float, default=MAX_SECONDS,
                        help=f"Seconds of timing after which no round is started past --tune_repeats "
                             f"(default {MAX_SECONDS}); a lossy runtime still undecided then is not chosen.")
    parser.add_argument("--batch_size", type=int, default=1,
                        help="Images per timed run, as `paddleseg infer --batch_size` will run them "
                             "(default 1); the tuning result applies to that batch size.")


def agreement_limits(args):
    """The library's ``min_agreement`` and ``max_miou_drop`` (a fraction, as the library measures mIoU)
    from the flags (``--max_miou_drop_points`` in percentage points), checked."""
    from ...errors import UserError

    if not 0 <= args.min_agreement <= 1:
        raise UserError(f"--min_agreement must be between 0 and 1, got {args.min_agreement}")
    if args.max_miou_drop_points < 0:
        raise UserError(f"--max_miou_drop_points must be >= 0, got {args.max_miou_drop_points}")
    return {"min_agreement": args.min_agreement, "max_miou_drop": args.max_miou_drop_points / PERCENT}


def add_arguments(parser):
    from ..common.config_flags import add_config_argument

    parser.add_argument("--model_dir", required=True, help="A directory written by `paddleseg export`.")
    parser.add_argument("--image_path", default=None,
                        help="Images to tune on (an image, a folder or a file list), without labels; "
                             "or give --tune_labels or --config.")
    add_config_argument(parser, required=False)
    parser.add_argument("--ignore_index", type=int, default=255, help="Label value left out of mIoU.")
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"], help="Device (default cpu).")
    parser.add_argument("--cpu_threads", type=int, default=None,
                        help="CPU threads, as `paddleseg infer` will run (default: all cores).")
    add_tune_arguments(parser)


def run(args):
    from ...deploy.exporting.exported_model import ExportedModel
    from ...errors import UserError
    from ...image_files import list_images
    from ..common.config_flags import dataset_pairs, load

    ignore_index = args.ignore_index
    if args.tune_labels:
        pairs = labelled_pairs(args.tune_labels)
    elif args.image_path:
        pairs = [(path, None) for path in list_images(args.image_path)[0]]
    elif args.config:
        pairs, ignore_index = dataset_pairs(load(args)[1], args.config, "to tune on", "--tune_labels or --image_path")
    else:
        raise UserError("give the images to tune on: --image_path, --tune_labels or --config")
    run_tuning(args, ExportedModel.read(args.model_dir), pairs, ignore_index)


def labelled_pairs(file_list):
    """(image, label) paths of a file list of 'image label' lines, relative to the list's folder."""
    import os

    from ...errors import UserError

    if not os.path.isfile(file_list):
        raise UserError(f"--tune_labels {file_list}: file not found")
    base = os.path.dirname(file_list)
    pairs = []
    with open(file_list) as lines:
        for number, line in enumerate(lines, 1):
            paths = line.split()
            if not paths:
                continue
            if len(paths) != 2:
                raise UserError(f"--tune_labels {file_list}, line {number}: expected 'image label', "
                                f"got {line.strip()!r}")
            pairs.append(tuple(os.path.join(base, path) for path in paths))
    if not pairs:
        raise UserError(f"--tune_labels {file_list}: an empty file list")
    return pairs


def run_tuning(args, model, pairs, ignore_index):
    """Tune ``model`` (an ExportedModel) on ``pairs`` ((image, label or None) paths) with the flags;
    print the table."""
    import os

    from ...deploy.exporting.model_files import TUNING_FILE
    from ...deploy.measuring.tune import format_entry, tune, tuning_samples
    from ...errors import UserError

    limits = agreement_limits(args)
    if args.tune_repeats < 1:
        raise UserError(f"--tune_repeats must be >= 1, got {args.tune_repeats}")
    samples = tuning_samples(pairs, model, args.tune_num)
    entry = tune(model, samples, device=getattr(args, "device", None) or "cpu",
                 threads=getattr(args, "cpu_threads", None), **limits, repeats=args.tune_repeats,
                 ignore_index=ignore_index, batch_size=args.batch_size, max_rounds=args.tune_max_repeats,
                 max_seconds=args.tune_seconds)
    print(format_entry(entry))
    print(f"Wrote {os.path.join(model.directory, TUNING_FILE)}")


def tune_export(args, builder, model):
    """``export --tune``: on --tune_labels, --calib_image_path, or the config's val (else train) dataset."""
    from ...image_files import list_images
    from ..common.config_flags import dataset_pairs

    ignore_index = 255
    if args.tune_labels:
        pairs = labelled_pairs(args.tune_labels)
    elif args.calib_image_path:
        pairs = [(path, None) for path in list_images(args.calib_image_path)[0]]
    else:
        pairs, ignore_index = dataset_pairs(builder, args.config, "to tune on", "--tune_labels or --calib_image_path")
    run_tuning(args, model, pairs, ignore_index)
