"""``paddleseg convert-weights IN OUT``: official PP-LiteSeg checkpoint -> LiteSeg layout."""


def add_arguments(parser):
    parser.add_argument("source", help="Checkpoint (.pdparams) in PaddleSeg's PPLiteSeg or LiteSeg layout")
    parser.add_argument("target", help="Where to write the checkpoint in LiteSeg's layout")


def run(args):
    from ..models.weights import convert_checkpoint
    count = convert_checkpoint(args.source, args.target)
    print(f"Wrote {count} tensors in LiteSeg's layout to {args.target}")
