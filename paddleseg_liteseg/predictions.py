"""Write a ``Predictor``'s labels as PaddleSeg's predictor does, for ``paddleseg predict`` and ``infer``.

For images: ``pseudo_color_prediction/`` (palette PNGs whose pixel values are the class ids) and
``added_prediction/`` (colour overlays), paths kept relative to the input folder; for a video or
camera, one overlay video.
"""
import os
import time

import cv2

from .errors import UserError
from .image_files import ImageError, read_image

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


def is_video(path):
    return str(path).isdigit() or str(path).lower().endswith(VIDEO_EXTENSIONS)


def segment_images(predictor, image_list, image_dir, save_dir, batch_size=1):
    """Write label PNGs and overlays for ``image_list``, keeping paths relative to ``image_dir``.

    A file that is not a readable image is skipped; returns those errors, one message per file.
    """
    from tqdm import tqdm

    failures = []
    with tqdm(total=len(image_list), unit="image", disable=len(image_list) < 2) as progress:
        for start in range(0, len(image_list), batch_size):
            paths, images = [], []
            for path in image_list[start:start + batch_size]:
                try:
                    images.append(read_image(path))
                    paths.append(path)
                except ImageError as error:
                    failures.append(str(error))
            for path, image, labels in zip(paths, images, predictor.predict(images) if images else []):
                write_prediction(predictor, save_dir, output_name(path, image_dir), image, labels)
            progress.update(len(image_list[start:start + batch_size]))
    return failures


def output_name(path, image_dir):
    """An image's name under the output folders: its path relative to ``image_dir`` (its file name
    where there is none)."""
    return os.path.relpath(path, image_dir) if image_dir else os.path.basename(path)


def write_prediction(predictor, save_dir, name, image, labels, overlay=True):
    """Write the label PNG (and the overlay) of the image called ``name``, each whole or not at all
    (``files.atomic``); returns the label PNG's path relative to ``save_dir``."""
    from paddleseg.utils.visualize import get_pseudo_color_map

    label_png = os.path.join("pseudo_color_prediction", os.path.splitext(name)[0] + ".png")
    _write(os.path.join(save_dir, label_png),
           lambda target: get_pseudo_color_map(labels, predictor.color_map).save(target, format="PNG"))
    if overlay:
        _write(os.path.join(save_dir, "added_prediction", name),
               lambda target: _imwrite(target, predictor.overlay(image, labels), os.path.splitext(name)[1]))
    return label_png


def segment_video(predictor, source, save_dir, batch_size=1, max_frames=None):
    """Write an overlay video of a video file or camera index; return (file, frames, frames per second)."""
    from tqdm import tqdm

    capture = cv2.VideoCapture(int(source) if str(source).isdigit() else source)
    if not capture.isOpened():
        raise UserError(f"{source}: cannot open this video or camera", path=str(source))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    name = f"camera{source}" if str(source).isdigit() else os.path.splitext(os.path.basename(source))[0]
    target = os.path.join(save_dir, f"{name}_overlay.mp4")
    os.makedirs(save_dir, exist_ok=True)
    writer, frames, start = None, 0, time.perf_counter()
    try:
        with tqdm(total=total, unit="frame") as progress:
            while max_frames is None or frames < max_frames:
                batch = _read_frames(capture, batch_size)
                if not batch:
                    break
                for frame, labels in zip(batch, predictor.predict(batch)):
                    if writer is None:
                        height, width = frame.shape[:2]
                        writer = cv2.VideoWriter(target, cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
                    writer.write(predictor.overlay(frame, labels))
                frames += len(batch)
                progress.update(len(batch))
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    seconds = time.perf_counter() - start
    return target, frames, frames / seconds if seconds > 0 else 0.0


def _read_frames(capture, count):
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    return frames


def _write(path, save):
    """``save(target)`` into a path beside ``path``, then renamed to it (a unique name per process:
    several may write one folder)."""
    from .files.atomic import atomic_path

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_path(path, f".{os.getpid()}.partial") as partial:
        save(partial)


def _imwrite(path, image, extension):
    """``cv2.imwrite`` to ``path`` in the format of ``extension`` (the path's own may be a partial's)."""
    ok, encoded = cv2.imencode(extension or ".png", image)
    if not ok:
        raise UserError(f"{path}: OpenCV cannot write {extension} images")
    encoded.tofile(path)
