"""What ``paddleseg infer`` reports around a run: the input shape tuning is keyed by, and the Speed line."""
from ...errors import UserError


def first_input_shape(model_dir, image_list, batch_size, window=None):
    """The model input (N C H W) of the first readable image in ``image_list`` (or of ``window``'s,
    a SlideWindow, where it slides), or None."""
    from ...deploy.exporting.exported_model import ExportedModel
    from ...image_files import ImageError, read_image

    if window:
        return [batch_size, 3, window.crop_size[1], window.crop_size[0]]
    for path in image_list:
        try:
            image = read_image(path)
        except ImageError:
            continue
        return ExportedModel.read(model_dir).input_shape_of(image, min(batch_size, len(image_list)))
    return None


def report_speed(args, timed, precision, images, seconds, unit="image"):
    """Print the Speed line; with ``--benchmark True`` also the summary (and write it to ``--save_log_path``)."""
    import os

    from ...deploy.running.inference_timing import benchmark_summary, speed_line

    if args.benchmark:
        summary = benchmark_summary(timed, images, seconds, args.model_name, args.device,
                                    precision, args.cpu_threads or "all cores", args.batch_size)
        print(summary)
        if args.save_log_path:
            try:
                os.makedirs(os.path.dirname(os.path.abspath(args.save_log_path)), exist_ok=True)
                with open(args.save_log_path, "w") as file:
                    file.write(summary + "\n")
            except OSError as error:
                raise UserError(f"--save_log_path {args.save_log_path}: {error.strerror}") from None
    print(speed_line(timed, images, seconds, unit))
