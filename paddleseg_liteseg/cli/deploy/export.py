"""``paddleseg export``: PaddleSeg's ``tools/export.py`` (Paddle 3 file names), plus ONNX and int8."""
from ..common.config_flags import add_config_argument, load
from .tune import add_tune_arguments, agreement_limits


def add_arguments(parser):
    from ...deploy.int8.int8_search import INT8_SEARCH_SECONDS

    add_config_argument(parser)
    parser.add_argument("--model_path", default=None,
                        help="Weights to export (.pdparams, this plugin's or PaddleSeg's PP-LiteSeg layout).")
    parser.add_argument("--save_dir", default="./output/inference_model", help="Where to write the model.")
    parser.add_argument("--input_shape", nargs=4, type=int, default=None, metavar=("N", "C", "H", "W"),
                        help="Fix the input shape (default: batch, height and width stay dynamic).")
    parser.add_argument("--output_op", default=None, choices=["argmax", "softmax", "none"],
                        help="Operator appended to the model's logits (default: argmax, or none where the "
                             "config's test_config slides windows: infer then slides them, averaging logits).")
    parser.add_argument("--onnx", action="store_true",
                        help="Also write model.onnx (dynamic shapes unless --input_shape).")
    add_int8_arguments(parser, "Also write int8 models calibrated on dataset images: onnxruntime's "
                               "quantizer's and NNCF's (where installed), each runtime given the one that agrees "
                               "best with fp32 on --calib_num images of the config's val_dataset (implies --onnx).")
    parser.add_argument("--int8_search_seconds", type=float, default=INT8_SEARCH_SECONDS,
                        help="Where no int8 model agrees --min_agreement with fp32 (and, on the labelled val "
                             "images, loses at most --max_miou_drop_points mIoU points), search this long per int8 "
                             f"runtime for the fewest layers to keep fp32 that get there (default "
                             f"{INT8_SEARCH_SECONDS:g}; 0: no search).")
    parser.add_argument("--format", dest="formats", action="append", default=[], choices=["ncnn", "tflite"],
                        help="Also write files for devices, from the ONNX model, each checked against onnxruntime "
                             "fp32 on --calib_num images: ncnn (fp32, fp16; extra [ncnn] and `pip install "
                             "--no-deps pnnx`), tflite (fp32, fp16, int8 with --int8; extra [tflite]). Needs "
                             "--input_shape 1 3 H W. Give it once per format.")
    parser.add_argument("--tune", action="store_true",
                        help="Then time every runtime here and record the fastest that agrees with fp32 "
                             "(implies --onnx; see `paddleseg tune`).")
    add_tune_arguments(parser)


def add_int8_arguments(parser, int8_help):
    """``--int8`` and where its calibration images come from (``export`` and ``bench``)."""
    from ...deploy.int8.quantize import CALIBRATION_IMAGES

    parser.add_argument("--int8", action="store_true", help=int8_help)
    parser.add_argument("--calib_image_path", default=None,
                        help="Calibration images: an image, a directory or a file list "
                             "(default: the config's train_dataset images).")
    parser.add_argument("--calib_num", type=int, default=CALIBRATION_IMAGES,
                        help=f"Number of calibration images (default {CALIBRATION_IMAGES}).")


def calibration_flags(args):
    """How calibration errors name the flags (``export`` and ``bench``)."""
    return {"paths": {"--calib_image_path": args.calib_image_path},
            "arguments": {"calib_images": "--calib_image_path"}}


def int8_limits(args):
    """The int8 bar and the search's time as ``export`` takes them, checked before the export spends
    time on them."""
    from ...errors import UserError

    if args.int8_search_seconds < 0:
        raise UserError(f"--int8_search_seconds must be >= 0, got {args.int8_search_seconds}")
    return {**agreement_limits(args), "int8_search_seconds": args.int8_search_seconds}


def run(args):
    from ...api import export
    from ...deploy.exporting.model_files import (DEPLOY_FILE, MODEL_KEY, ONNX_INT8_KEY, ONNX_KEY, OPENVINO_INT8_KEY, PARAMS_KEY)
    from ...deploy.exporting.device_files import device_files
    from ..common.flags import in_flag_terms

    limits = int8_limits(args)
    flags = calibration_flags(args)
    with in_flag_terms(paths=flags["paths"], arguments={**flags["arguments"], "input_shape": "--input_shape",
                                                        "formats": "--format", "output_op": "--output_op"}):
        exported = export(args.config, args.save_dir, weights=args.model_path, onnx=args.onnx or args.tune,
                          int8=args.int8, input_shape=args.input_shape, output_op=args.output_op,
                          calib_images=args.calib_image_path, calib_num=args.calib_num, opts=args.opts,
                          formats=args.formats, **limits)
    written = list(dict.fromkeys(exported.get(key) for key in
                                 (MODEL_KEY, PARAMS_KEY, ONNX_KEY, ONNX_INT8_KEY, OPENVINO_INT8_KEY) if key in exported))
    written += [name for device in device_files(exported) for name in device.files]
    print(f"Exported to {args.save_dir}: {', '.join(written)}, {DEPLOY_FILE}")
    for device in device_files(exported):
        miou = f", mIoU {device.miou:.4f}" if device.miou is not None else ""
        print(f"  {device.format} {device.precision}: agrees with onnxruntime fp32 on {device.agreement:.2%} of "
              f"the pixels of {device.images} images{miou}")
    if args.tune:
        from .tune import tune_export
        tune_export(args, load(args)[1], exported)
