"""``paddleseg infer``: segment images, a folder, a video or a camera with an exported model."""
from . import paddleseg_deploy_flags, slide_flags


def add_arguments(parser):
    from ...deploy.running.runtimes import BACKENDS

    parser.add_argument("--model_dir", default=None, help="A directory written by `paddleseg export`.")
    parser.add_argument("--image_path", required=True,
                        help="An image, a directory of images, a file list, a video file, or a camera index.")
    parser.add_argument("--save_dir", default="./output/result", help="Where to write the predictions.")
    parser.add_argument("--backend", default="auto", choices=["auto", *BACKENDS],
                        help="Runtime; auto takes what `paddleseg tune` measured here, else chooses by the CPU; "
                             "ncnn and tflite run the files `paddleseg export --format` wrote.")
    parser.add_argument("--device", default=None, choices=["cpu", "gpu"],
                        help="Device (default: gpu when Paddle sees one, else cpu).")
    parser.add_argument("--precision", default=None, choices=["fp32", "fp16", "bf16", "int8"],
                        help="Default: chosen with --backend auto (fp32 for a named backend); int8 runs "
                             "the model written by `paddleseg export --int8`; bf16 needs a CPU with bf16.")
    parser.add_argument("--batch_size", type=int, default=1, help="Images (or frames) per run.")
    parser.add_argument("--cpu_threads", type=int, default=None, help="CPU threads (default: all cores).")
    parser.add_argument("--custom_color", nargs="+", type=int, default=None,
                        help="Class colours as R G B R G B ... (default: the dataset's, written by export, "
                             "else PaddleSeg's).")
    parser.add_argument("--max_frames", type=int, default=None,
                        help="Stop a video or camera after this many frames.")
    slide_flags.add_arguments(parser, "--batch_size windows a run")
    parser.add_argument("--ray", action="store_true",
                        help="Run on Ray Data: a pool of actors, each with the model and --cpu_threads threads (default "
                             "1), --batch_size images handed to an actor at a time; writes manifest.jsonl, and a "
                             "job run again skips the images it records as done (extra [ray]).")
    parser.add_argument("--ray_address", default=None,
                        help="A Ray cluster to join (default: RAY_ADDRESS, else a Ray started here for the job).")
    parser.add_argument("--ray_actors", type=int, default=None,
                        help="Actors (default: the cluster's CPUs over --cpu_threads).")
    paddleseg_deploy_flags.add_arguments(parser)


def run(args):
    import sys
    import time

    from ...errors import UserError
    from ...image_files import list_images
    from ...predictions import is_video, segment_images, segment_video
    from ...predictor import Predictor
    from ..common.config_flags import default_device
    from ..common.flags import custom_palette, in_flag_terms
    from .infer_speed import first_input_shape, report_speed

    if args.batch_size < 1:
        raise UserError(f"--batch_size must be >= 1, got {args.batch_size}")
    args.device = args.device or default_device()
    options, notes = paddleseg_deploy_flags.apply(args)
    if args.ray:
        return run_on_ray(args)
    video = is_video(args.image_path)
    if not video:
        with in_flag_terms(paths={"--image_path": args.image_path}):
            image_list, image_dir, skipped = list_images(args.image_path)
    with in_flag_terms(paths={"--model_dir": args.model_dir}, arguments=slide_flags.ARGUMENTS):
        window = slide_flags.window(args)
        predictor = Predictor(args.model_dir, backend=args.backend, device=args.device, precision=args.precision,
                              threads=args.cpu_threads, palette=custom_palette(args.custom_color),
                              input_shape=None if video else first_input_shape(args.model_dir, image_list,
                                                                               args.batch_size, window),
                              runtime_options=options, slide=window or False, slide_batch_size=args.batch_size)
    print(f"Backend: {predictor.backend} ({args.device}, {predictor.choice.precision}), {predictor.choice.reason}")
    for note in notes:
        print(note)
    if predictor.window:
        print(f"Sliding a {predictor.window.crop_size[0]}x{predictor.window.crop_size[1]} window by "
              f"{predictor.window.stride[0]}x{predictor.window.stride[1]}")
    start = time.perf_counter()
    if video:
        with in_flag_terms(paths={"--image_path": args.image_path}):
            target, frames, fps = segment_video(predictor, args.image_path, args.save_dir, args.batch_size,
                                                args.max_frames)
        print(f"Wrote {target}: {frames} frames at {fps:.1f} FPS (reading, inference and writing)")
        report_speed(args, predictor.timing, predictor.choice.precision, frames, time.perf_counter() - start)
        return
    if skipped:
        print(f"Skipped {skipped} files without an image suffix in {args.image_path}")
    with in_flag_terms(arguments=slide_flags.ARGUMENTS):
        failures = segment_images(predictor, image_list, image_dir, args.save_dir,
                                  1 if predictor.window else args.batch_size)
    print(f"Wrote label PNGs and overlays of {len(image_list) - len(failures)} images to {args.save_dir}")
    for failure in failures:
        print(f"paddleseg infer: skipped {failure}", file=sys.stderr)
    report_speed(args, predictor.timing, predictor.choice.precision, len(image_list) - len(failures),
                 time.perf_counter() - start, "window" if predictor.window else "image")
    return 1 if failures else 0



def run_on_ray(args):
    """``--ray``: the job on Ray Data, its progress, and what it did."""
    from tqdm import tqdm

    from ...batch.ray_job import segment_with_ray
    from ...predictions import is_video
    from ...errors import UserError
    from ..common.flags import in_flag_terms

    if is_video(args.image_path):
        raise UserError("--ray segments images; a video or camera runs without it")
    with in_flag_terms(paths={"--model_dir": args.model_dir, "--image_path": args.image_path},
                       arguments={**slide_flags.ARGUMENTS, "threads": "--cpu_threads", "batch_size": "--batch_size",
                                  "actors": "--ray_actors"}):
        window = slide_flags.window(args)
        with tqdm(unit="image") as progress:
            report = segment_with_ray(args.model_dir, args.image_path, args.save_dir, address=args.ray_address,
                                      actors=args.ray_actors, threads=args.cpu_threads or 1,
                                      batch_size=args.batch_size, backend=args.backend, precision=args.precision,
                                      slide=window or False, on_record=lambda record: progress.update(1))
    print(f"Ray: {report.actors} actors on {report.nodes} nodes; {report.listed} images: {report.done} segmented, "
          f"{report.skipped} done before, {report.failed} failed, in {report.seconds:.1f} s; manifest {report.manifest}")
    return 1 if report.failed else 0
