"""``paddleseg convert-weights IN OUT``: a PP-LiteSeg checkpoint in either layout -> LiteSeg's or PaddleSeg's."""
LAYOUT_NAMES = {"liteseg": "LiteSeg's", "paddleseg": "PaddleSeg's PPLiteSeg"}


def add_arguments(parser):
    parser.add_argument("source", help="Checkpoint (.pdparams or .safetensors, a URL or an official name "
                                       "from 'paddleseg weights') in PaddleSeg's PPLiteSeg or LiteSeg layout")
    parser.add_argument("target", help="Where to write it; a .safetensors name writes safetensors")
    parser.add_argument("--to", default="liteseg", choices=sorted(LAYOUT_NAMES),
                        help="Key layout to write: this plugin's LiteSeg (default) or PaddleSeg's PPLiteSeg, "
                             "which PaddleSeg's and PaddleX's tools load.")


def run(args):
    from ...weights.layouts import convert_checkpoint
    count = convert_checkpoint(args.source, args.target, layout=args.to)
    print(f"Wrote {count} tensors in {LAYOUT_NAMES[args.to]} layout to {args.target}")
