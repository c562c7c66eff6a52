"""``paddleseg make-toy-data DIR``: the seeded synthetic dataset of the quick start and tests."""


def add_arguments(parser):
    parser.add_argument("root", help="Where to write the dataset (Cityscapes layout + train.txt/val.txt).")
    parser.add_argument("--num_train", type=int, default=200, help="Training images.")
    parser.add_argument("--num_val", type=int, default=40, help="Validation images.")
    parser.add_argument("--size", nargs=2, type=int, default=(256, 128), metavar=("W", "H"),
                        help="Image width and height.")
    parser.add_argument("--num_classes", type=int, default=5, help="Classes, background included (2-6).")
    parser.add_argument("--seed", type=int, default=0, help="Same seed, same bytes.")


def run(args):
    from ...datasets.toy import make_toy_dataset
    from ...errors import UserError
    try:
        metadata = make_toy_dataset(args.root, args.num_train, args.num_val, args.size,
                                    args.num_classes, args.seed)
    except ValueError as error:
        raise UserError(str(error)) from None
    print(f"Wrote {metadata['num_train']} train and {metadata['num_val']} val images "
          f"({metadata['num_classes']} classes: {', '.join(metadata['class_names'])}) to {args.root}")
