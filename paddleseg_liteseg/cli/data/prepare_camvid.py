"""``paddleseg prepare-camvid ROOT``: SegNet's CamVid -> labels with void = 255 + file lists."""
import os


def add_arguments(parser):
    parser.add_argument("root", help="SegNet CamVid folder (train/ trainannot/ val/ valannot/ test/ testannot/)")
    parser.add_argument("--output_dir", default=None,
                        help="Where labels and lists go, and so the CamVid dataset_root "
                             "(default: the CamVid folder itself). Originals are never modified.")


def run(args):
    from ...datasets.prepare_camvid import prepare_camvid
    counts = prepare_camvid(args.root, args.output_dir)
    output_dir = args.output_dir or args.root
    for split, count in counts.items():
        print(f"{split}: {count} images -> {os.path.join(output_dir, split + '.txt')}")
