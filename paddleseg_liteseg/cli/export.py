"""``paddleseg export``: PaddleSeg's ``tools/export.py`` (Paddle 3 file names), plus ONNX and int8."""
from .config import add_config_argument, built_model, load
from .tune import add_tune_arguments


def add_arguments(parser):
    add_config_argument(parser)
    parser.add_argument("--model_path", default=None,
                        help="Weights to export (.pdparams, this plugin's or PaddleSeg's PP-LiteSeg layout).")
    parser.add_argument("--save_dir", default="./output/inference_model", help="Where to write the model.")
    parser.add_argument("--input_shape", nargs=4, type=int, default=None, metavar=("N", "C", "H", "W"),
                        help="Fix the input shape (default: batch, height and width stay dynamic).")
    parser.add_argument("--output_op", default="argmax", choices=["argmax", "softmax", "none"],
                        help="Operator appended to the model's logits.")
    parser.add_argument("--onnx", action="store_true",
                        help="Also write model.onnx (dynamic shapes unless --input_shape).")
    add_int8_arguments(parser, "Also write model_int8.onnx, quantized after calibrating on dataset "
                               "images (implies --onnx).")
    parser.add_argument("--tune", action="store_true",
                        help="Then time every runtime here and record the fastest that agrees with fp32 "
                             "(implies --onnx; see `paddleseg tune`).")
    add_tune_arguments(parser)


def add_int8_arguments(parser, int8_help):
    """``--int8`` and where its calibration images come from (``export`` and ``bench``)."""
    parser.add_argument("--int8", action="store_true", help=int8_help)
    parser.add_argument("--calib_image_path", default=None,
                        help="Calibration images: an image, a directory or a file list "
                             "(default: the config's train_dataset images).")
    parser.add_argument("--calib_num", type=int, default=32, help="Number of calibration images.")


def run(args):
    import os

    from ..deploy.export import ONNX_INT8_KEY, export, write_deploy_yaml
    from ..deploy.quantize import INT8_FILE, quantize_onnx
    from ..errors import ConfigError

    config, builder = load(args)
    transforms = config.val_dataset_cfg.get("transforms")
    if transforms is None:
        raise ConfigError(f"{args.config}: val_dataset.transforms is needed; it becomes the "
                          "deployed preprocessing")
    model = built_model(builder, args.model_path)
    deploy = export(model, args.save_dir, transforms, input_shape=args.input_shape,
                    output_op=args.output_op, onnx=args.onnx or args.int8 or args.tune)
    if args.int8:
        quantize_onnx(os.path.join(args.save_dir, deploy["onnx"]),
                      os.path.join(args.save_dir, INT8_FILE), calibration_set(args, builder, transforms))
        deploy[ONNX_INT8_KEY] = INT8_FILE
        write_deploy_yaml(args.save_dir, deploy)
    written = [deploy[key] for key in ("model", "params", "onnx", ONNX_INT8_KEY) if key in deploy]
    print(f"Exported to {args.save_dir}: {', '.join(written)}, deploy.yaml")
    if args.tune:
        from .tune import tune_export
        tune_export(args, builder, args.save_dir, deploy)


def calibration_set(args, builder, transforms):
    """``--calib_num`` images from ``--calib_image_path`` or the train_dataset, preprocessed by ``transforms``."""
    from ..deploy.quantize import calibration_images
    from ..errors import ConfigError
    from ..image_files import list_images

    if args.calib_image_path:
        paths = list_images(args.calib_image_path)[0]
    else:
        try:
            paths = [pair[0] for pair in builder.train_dataset.file_list]
        except Exception as error:  # PaddleSeg raises many types for a missing or malformed dataset
            raise ConfigError(f"{args.config}: train_dataset gives no calibration images ({error}); "
                              "pass --calib_image_path") from None
    return calibration_images(paths, transforms, args.calib_num)
