"""``paddleseg prepare-dataset``: your images and masks (or LabelMe files) -> file lists, labels, configs."""
import os

EXAMPLES_SHOWN = 5


def add_arguments(parser):
    from ...datasets.label_formats import FORMATS
    parser.add_argument("--images", required=True, help="Folder of images (searched recursively).")
    parser.add_argument("--labels", required=True,
                        help="Folder of masks or LabelMe .json files, named as their images (searched recursively).")
    parser.add_argument("--output", required=True,
                        help="Folder to write labels/, train.txt, val.txt, class_names.txt, dataset.json and "
                             "configs to.")
    parser.add_argument("--split", nargs="+", type=float, default=[0.8, 0.2], metavar="SHARE",
                        help="Shares of train, val and optionally test (default: 0.8 0.2).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the split; same seed, same files.")
    parser.add_argument("--format", default="auto", choices=("auto", *FORMATS),
                        help="Mask format (default: detected from all masks, and printed).")
    parser.add_argument("--class_names", nargs="+", default=None, metavar="FILE_OR_NAMES",
                        help="Class names in class-id order: a file with one name a line (optionally "
                             "'name R G B' for colour masks), or the names themselves.")
    parser.add_argument("--overwrite", action="store_true", help="Replace an existing output folder.")


def run(args):
    from ...datasets.label_formats import parse_class_names
    from ...datasets.prepare_dataset import OutputExistsError, prepare_dataset
    from ...errors import UserError

    names = None
    if args.class_names:
        if len(args.class_names) == 1 and os.path.isfile(args.class_names[0]):
            with open(args.class_names[0]) as file:
                names = parse_class_names(file)
        else:
            names = parse_class_names(args.class_names)
    try:
        summary = prepare_dataset(args.images, args.labels, args.output, split=args.split, seed=args.seed,
                                  label_format=None if args.format == "auto" else args.format,
                                  class_names=names, overwrite=args.overwrite)
    except OutputExistsError as error:
        raise UserError(f"{error}; pass --overwrite to replace it, or choose another --output") from None
    pairing, chosen = summary["pairing"], summary["label_format"]
    print(f"labels: {chosen.detection}")
    for what, files, partner in (("image", pairing.unpaired_images, "mask"),
                                 ("mask", pairing.unpaired_masks, "image")):
        if files:
            shown = ", ".join(files[:EXAMPLES_SHOWN]) + (", ..." if len(files) > EXAMPLES_SHOWN else "")
            print(f"skipped {len(files)} {what}{'' if len(files) == 1 else 's'} without a {partner} of the same "
                  f"name: {shown}")
    output = os.path.abspath(args.output)
    counts = summary["counts"]
    parts = ", ".join(f"{counts[name]} {name}" for name in ("train", "val", "test") if counts.get(name))
    print(f"{len(pairing.pairs)} pairs: {parts} (seed {args.seed}) -> {output}")
    classes = ", ".join(f"{index} {name} ({share:.1%})" for index, (name, share) in
                        enumerate(zip(summary["class_names"], summary["pixel_frequencies"])))
    print(f"{summary['num_classes']} classes, share of train pixels: {classes}")
    print(f"next: paddleseg check-data --config {os.path.join(output, 'pp_liteseg_t.yml')}")
    print(f"      paddleseg train --config {os.path.join(output, 'pp_liteseg_t.yml')} --do_eval "
          f"--save_dir output/own_t")
