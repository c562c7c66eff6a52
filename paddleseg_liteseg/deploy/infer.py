"""Segment images and videos with an exported model: deploy.yaml's preprocessing, a runtime, labels out.

Writes what PaddleSeg's predictor writes: ``pseudo_color_prediction/`` (palette PNGs whose pixel
values are the class ids) and ``added_prediction/`` (colour overlays); for a video or camera, one
overlay video.
"""
import os
import time

import cv2
import numpy as np
import paddle
from paddleseg.core.infer import reverse_transform
from paddleseg.deploy.infer import DeployConfig
from paddleseg.utils.visualize import get_color_map_list, get_pseudo_color_map

from ..errors import UserError
from ..image_files import ImageError, read_image
from .export import DEPLOY_FILE, read_deploy_yaml
from .runtime_choice import choose_runtime
from .runtimes import create_runtime

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
OVERLAY_IMAGE_WEIGHT = 0.6  # PaddleSeg's visualize() default


class Segmenter:
    """An exported model behind a runtime: BGR images in, (H, W) uint8 label maps out.

    Args:
        model_dir (str): A directory written by ``paddleseg export``.
        backend, device, precision, threads, input_shape: See ``runtime_choice.choose_runtime``
            (precision None: chosen with the backend); ``choice`` says what was chosen and why.
        options: For the backend's runtime (``runtimes.create_runtime``).
    """

    def __init__(self, model_dir, backend="auto", device="cpu", precision=None, threads=None,
                 input_shape=None, **options):
        deploy = read_deploy_yaml(model_dir)
        self.transforms = DeployConfig(os.path.join(model_dir, DEPLOY_FILE)).transforms
        self.choice = choose_runtime(model_dir, deploy, backend, device, precision, threads, input_shape)
        self.runtime = create_runtime(model_dir, deploy, self.choice.backend, device, self.choice.precision,
                                      threads, **options)

    def preprocess(self, image):
        """(C, H, W) float32 input and PaddleSeg's ``trans_info`` for one BGR image."""
        data = self.transforms({"img": image.astype("float32")})
        return data["img"], data["trans_info"]

    def __call__(self, images):
        """Label maps for a list of BGR images; images of one size run as one batch."""
        inputs = [self.preprocess(image) for image in images]
        shapes = {item[0].shape for item in inputs}
        if len(shapes) == 1:
            outputs = self.runtime(np.stack([item[0] for item in inputs]))
        else:
            outputs = [self.runtime(item[0][np.newaxis])[0] for item in inputs]
        return [self.postprocess(output, trans_info) for output, (_, trans_info) in zip(outputs, inputs)]

    @staticmethod
    def postprocess(output, trans_info):
        """Labels from one image's output (labels, or logits/probabilities), at the original size."""
        labels = output if output.ndim == 2 else output.argmax(axis=0)
        if trans_info:
            labels = reverse_transform(paddle.to_tensor(labels[np.newaxis, np.newaxis].astype("int32")),
                                       trans_info, mode="nearest").numpy()[0, 0]
        return labels.astype("uint8")


def overlay(image, labels, palette):
    """Blend the label colours (``palette``: (256, 3) BGR) into a BGR image."""
    return cv2.addWeighted(image, OVERLAY_IMAGE_WEIGHT, palette[labels], 1 - OVERLAY_IMAGE_WEIGHT, 0)


def bgr_palette(custom_color=None):
    """PaddleSeg's colour map (or ``custom_color`` R G B ...) as a (256, 3) BGR array."""
    colors = get_color_map_list(256, custom_color=custom_color)
    return colors, np.array(colors, dtype=np.uint8).reshape(-1, 3)[:, ::-1].copy()


def is_video(path):
    return str(path).isdigit() or str(path).lower().endswith(VIDEO_EXTENSIONS)


def segment_images(segmenter, image_list, image_dir, save_dir, batch_size=1, custom_color=None):
    """Write label PNGs and overlays for ``image_list``, keeping paths relative to ``image_dir``.

    A file that is not a readable image is skipped; returns those errors, one message per file.
    """
    from tqdm import tqdm

    colors, palette = bgr_palette(custom_color)
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
            for path, image, labels in zip(paths, images, segmenter(images) if images else []):
                name = os.path.relpath(path, image_dir) if image_dir else os.path.basename(path)
                stem = os.path.splitext(name)[0]
                _write(os.path.join(save_dir, "pseudo_color_prediction", stem + ".png"),
                       lambda target: get_pseudo_color_map(labels, colors).save(target))
                _write(os.path.join(save_dir, "added_prediction", name),
                       lambda target: cv2.imwrite(target, overlay(image, labels, palette)))
            progress.update(len(image_list[start:start + batch_size]))
    return failures


def segment_video(segmenter, source, save_dir, batch_size=1, custom_color=None, max_frames=None):
    """Write an overlay video of a video file or camera index; return (frames, frames per second)."""
    from tqdm import tqdm

    capture = cv2.VideoCapture(int(source) if str(source).isdigit() else source)
    if not capture.isOpened():
        raise UserError(f"--image_path {source}: cannot open this video or camera")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    name = f"camera{source}" if str(source).isdigit() else os.path.splitext(os.path.basename(source))[0]
    target = os.path.join(save_dir, f"{name}_overlay.mp4")
    os.makedirs(save_dir, exist_ok=True)
    _, palette = bgr_palette(custom_color)
    writer, frames, start = None, 0, time.perf_counter()
    try:
        with tqdm(total=total, unit="frame") as progress:
            while max_frames is None or frames < max_frames:
                batch = _read_frames(capture, batch_size)
                if not batch:
                    break
                for frame, labels in zip(batch, segmenter(batch)):
                    if writer is None:
                        height, width = frame.shape[:2]
                        writer = cv2.VideoWriter(target, cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
                    writer.write(overlay(frame, labels, palette))
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
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save(path)
