"""``paddleseg prepare-cityscapes ROOT``: raw Cityscapes -> ``*_labelTrainIds.png`` + file lists."""
import os

from ...errors import UserError


def add_arguments(parser):
    parser.add_argument("root", help="Cityscapes root holding leftImg8bit/ and gtFine/")
    parser.add_argument("--num_workers", type=int, default=min(8, os.cpu_count() or 1),
                        help="Processes converting labels in parallel (default: %(default)s).")
    parser.add_argument("--overwrite", action="store_true",
                        help="Rewrite labelTrainIds images that already exist.")


def run(args):
    try:
        from ...datasets.prepare_cityscapes import prepare_cityscapes
    except ImportError as error:
        raise UserError(f"{error}: Cityscapes preparation needs cityscapesscripts; "
                        "pip install 'paddleseg-liteseg[cityscapes]'") from None
    counts = prepare_cityscapes(args.root, args.num_workers, args.overwrite)
    for split, count in counts.items():
        print(f"{split}: {count} images -> {os.path.join(args.root, split + '.txt')}")
