"""``paddleseg bench``: latency, FPS, params, FLOPs and agreement with fp32 of a config's model on every runtime."""
from ..common.config_flags import add_config_argument, built_model, default_device, load
from .export import add_int8_arguments, calibration_flags

BACKEND_CHOICES = ["dygraph", "paddle", "onnxruntime", "openvino", "ncnn", "tflite", "all"]


def add_arguments(parser):
    add_config_argument(parser)
    parser.add_argument("--model_path", default=None,
                        help="Weights (.pdparams, either layout); default: the config's initialisation.")
    parser.add_argument("--input_shape", nargs=4, type=int, default=[1, 3, 512, 1024],
                        metavar=("N", "C", "H", "W"), help="Input shape (default 1 3 512 1024).")
    parser.add_argument("--backend", nargs="+", default=["all"], choices=BACKEND_CHOICES,
                        help="Runtimes to time (default: all, which leaves out ncnn and tflite: named, they "
                             "time the device files, converted and checked first; see `export --format`).")
    parser.add_argument("--reference", action="store_true",
                        help="Also time PaddleSeg's PPLiteSeg with the same weights, and print the ratio.")
    add_int8_arguments(parser, "Also time int8 models calibrated on the config's train_dataset images.")
    parser.add_argument("--device", default=None, choices=["cpu", "gpu"],
                        help="Device (default: gpu when Paddle sees one, else cpu). On gpu, onnxruntime "
                             "runs TensorRT where installed: the paper's protocol.")
    parser.add_argument("--cpu_threads", type=int, default=None, help="CPU threads (default: all cores).")
    parser.add_argument("--repeats", type=int, default=20, help="Timed runs of each runtime.")
    parser.add_argument("--warmup", type=int, default=3, help="Untimed runs of each runtime first.")
    parser.add_argument("--image_path", default=None,
                        help="Images the agreement with fp32 is measured on (an image, a folder or a file "
                             "list; default: the config's val_dataset, else its train_dataset).")
    parser.add_argument("--agreement_num", type=int, default=8, help="Images for the agreement (default 8).")
    parser.add_argument("--save_json", default="./output/bench.json", help="Where to write the results.")


def run(args):
    from ...api import config_label
    from ...deploy.measuring.bench import RUNTIMES, benchmark, format_table, write_json
    from ...deploy.int8.calibration_data import calibration_set
    from ..common.flags import in_flag_terms
    config, builder = load(args)
    runtimes = RUNTIMES if "all" in args.backend else tuple(args.backend)
    images = None
    if args.int8:
        with in_flag_terms(**calibration_flags(args)):
            images = calibration_set(config_label(args.config), builder, val_transforms(config),
                                     args.calib_image_path, args.calib_num)
    model = built_model(builder, args.model_path)
    result = benchmark(model, tuple(args.input_shape), runtimes, reference=args.reference,
                       threads=args.cpu_threads, repeats=args.repeats, warmup=args.warmup,
                       calibration_images=images, device=args.device or default_device(),
                       agreement_images=agreement_images(args, config, builder))
    print(format_table(result))
    write_json(result, args.save_json)
    print(f"Wrote {args.save_json}")


def agreement_images(args, config, builder):
    """``--agreement_num`` images of ``--image_path`` or the config's val (else train) dataset, preprocessed."""
    from ...deploy.int8.quantize import calibration_images
    from ...image_files import list_images
    from ..common.config_flags import dataset_pairs

    if args.image_path:
        paths = list_images(args.image_path)[0]
    else:
        paths = [image for image, _ in dataset_pairs(builder, args.config, "for the agreement with fp32",
                                                     "--image_path")[0]]
    return calibration_images(paths, val_transforms(config), args.agreement_num)


def val_transforms(config):
    """The config's val_dataset transforms (config entries), else PaddleSeg's default preprocessing."""
    from ...deploy.exporting.exported_model import DEFAULT_TRANSFORMS
    return config.val_dataset_cfg.get("transforms") or DEFAULT_TRANSFORMS
