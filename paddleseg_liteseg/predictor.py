"""``Predictor``: BGR images in, (H, W) uint8 label maps out, for an exported model, a config or a model.

``paddleseg infer``, ``paddleseg predict`` and Python all segment through it, so preprocessing and
the way labels come back are the same everywhere: PaddleSeg's ``Compose`` of the model's
transforms (deploy.yaml's, the config's val transforms, or PaddleSeg's default ``Normalize`` for a
bare model), and labels at the image's own size (PaddleSeg's ``reverse_transform``). An exported
model runs on a runtime (Paddle Inference, onnxruntime, OpenVINO, NCNN, LiteRT), sliding windows
over large images where asked or where its deploy.yaml says so (``deploy.running.sliding_window``,
band by band); a config's or a bare model runs in dygraph through PaddleSeg's
``inference``/``aug_inference`` (multi-scale, flip, sliding window).
Overlays use the dataset's class colours where it has them, else PaddleSeg's colour map.
"""
import os

import cv2
import numpy as np

from .errors import UserError

OVERLAY_IMAGE_WEIGHT = 0.6  # PaddleSeg's visualize() default
DYGRAPH = "dygraph"
# PaddleSeg's test_config keys that aug_inference and inference take.
AUGMENTATION_KEYS = ("scales", "flip_horizontal", "flip_vertical")
SLIDING_KEYS = ("is_slide", "stride", "crop_size")


class Predictor:
    """Segments images with an exported model, a config's model or a model.

    Args:
        model: A directory written by ``paddleseg export``; a config (file, shipped config name,
            dict or loaded PaddleSeg ``Config``, see ``api.load``); or an ``nn.Layer`` (one from
            ``build_model`` runs as its config says; any other gets PaddleSeg's Normalize).
        weights (str, optional): A checkpoint for a config's model or a model (either layout).
        backend (str, optional): For an exported model: "auto" (default), "paddle",
            "onnxruntime", "openvino", "ncnn" or "tflite". Other models run in dygraph.
        device (str, optional): "cpu" or "gpu" (default: gpu when Paddle sees one); a dygraph
            model is moved there with ``paddle.set_device`` only when this is given.
        precision (str, optional): An exported model's "fp32", "fp16", "bf16" or "int8" (default:
            chosen with the backend, see ``deploy.runtime_choice``; fp32 for a named backend).
        threads (int, optional): CPU threads of an exported model's runtime.
        input_shape (list[int], optional): The N C H W an exported model will run at, which picks
            the ``paddleseg tune`` result for it (a model exported with a fixed shape has its own).
        runtime_options (dict, optional): Options of an exported model's runtime (Paddle
            Inference: onednn, tensorrt, min_subgraph_size, glog).
        test_config (dict, optional): PaddleSeg's test options for a dygraph model (aug_pred,
            scales, flip_horizontal, flip_vertical, is_slide, crop_size, stride); a config's own
            test_config without aug_eval by default, as ``paddleseg predict`` takes it.
        palette (list[tuple[int]], optional): Class colours (R, G, B), instead of the dataset's.
        opts (dict, optional): Config overrides, as in ``build_model``.
        slide (SlideWindow | bool, optional): Slide this window (``deploy.running.sliding_window``)
            over each image, as PaddleSeg's ``is_slide``; False: never. None (default): an exported
            model slides where its deploy.yaml records a window (from its config's test_config),
            a dygraph model where its test_config says so. An exported model slides only where it
            gives logits (exported with output_op "none").
        slide_batch_size (int): An exported model's windows run in batches of at most this many.

    Attributes:
        backend (str): What runs the model: "dygraph" or the runtime's name.
        choice (runtime_choice.Choice | None): An exported model's backend, precision and why.
        timing (inference_timing.TimedRuntime | None): An exported model's runtime, timing each call.
        window (SlideWindow | None): The window an exported model slides over each image, if any.
        class_names (list[str] | None): The dataset's class names, where it names them.
        color_map (list[int]): Flat R, G, B of 256 classes, as PaddleSeg's ``get_color_map_list``.
    """

    def __init__(self, model, weights=None, backend=None, device=None, precision=None, threads=None,
                 test_config=None, palette=None, opts=None, input_shape=None, runtime_options=None, slide=None,
                 slide_batch_size=1):
        from paddleseg.utils.visualize import get_color_map_list

        if isinstance(model, (str, os.PathLike)) and os.path.isdir(model):
            if weights:
                raise UserError(f"weights: {model} is an exported model, which holds its own weights")
            self._model = _ExportedModel(os.fspath(model), backend or "auto", device, precision, threads,
                                         input_shape, runtime_options or {}, slide, slide_batch_size)
        else:
            if backend not in (None, DYGRAPH):
                raise UserError(f"backend {backend!r} runs exported models; {model!r} is not a directory "
                                "written by `paddleseg export`")
            self._model = _DygraphModel(model, weights, device, test_config, opts, slide)
        self.backend = self._model.name
        self.choice = getattr(self._model, "choice", None)
        self.timing = getattr(self._model, "runtime", None)
        self.window = getattr(self._model, "window", None)
        self.class_names = self._model.class_names
        colours = palette or self._model.palette
        self.color_map = get_color_map_list(256, custom_color=[int(v) for c in colours or () for v in c] or None)
        self._bgr_palette = np.array(self.color_map, dtype=np.uint8).reshape(-1, 3)[:, ::-1].copy()

    def predict(self, image):
        """Label maps of ``image``: a path or an (H, W, 3) BGR uint8 array gives one (H, W) uint8
        array; a list of them gives a list (images of one size run as one batch where the
        runtime allows)."""
        if isinstance(image, (list, tuple)):
            return self._model([self._preprocess(_as_bgr(item)) for item in image])
        return self._model([self._preprocess(_as_bgr(image))])[0]

    def overlay(self, image, labels):
        """``image`` (a path or BGR array) with the class colours of ``labels`` blended in (BGR)."""
        image = _as_bgr(image)
        if labels.shape != image.shape[:2]:
            raise UserError(f"labels: shape {labels.shape} does not match the image's {image.shape[:2]}")
        return cv2.addWeighted(image, OVERLAY_IMAGE_WEIGHT, self._bgr_palette[labels], 1 - OVERLAY_IMAGE_WEIGHT, 0)

    def _preprocess(self, image):
        data = self._model.transforms({"img": image.astype("float32")})
        return data["img"], data["trans_info"]


def _as_bgr(image):
    """A path read as 8-bit BGR, or an (H, W, 3) uint8 array as it is."""
    from .image_files import read_image
    if isinstance(image, (str, os.PathLike)):
        return read_image(os.fspath(image))
    if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8):
        described = f"an array of shape {image.shape} and dtype {image.dtype}" if isinstance(image, np.ndarray) \
            else f"an object of type {type(image).__name__}"
        raise UserError(f"image: expected a path or an (H, W, 3) BGR uint8 array, got {described}")
    return image


class _ExportedModel:
    """A directory written by ``paddleseg export`` on one of its runtimes."""

    def __init__(self, model_dir, backend, device, precision, threads, input_shape, runtime_options, slide,
                 slide_batch_size):
        from .api import default_device
        from .deploy.exporting.exported_model import ExportedModel, preprocessing
        from .deploy.exporting.fixed_shape import unfitted_transforms
        from .deploy.exporting.model_files import INPUT_SHAPE_KEY, TRANSFORMS_KEY
        from .deploy.running.sliding_window import check_window, recorded_window
        from .deploy.running.inference_timing import TimedRuntime
        from .deploy.exporting.model_files import CLASS_NAMES_KEY, PALETTE_KEY
        from .deploy.running.runtime_choice import choose_runtime
        from .deploy.running.runtimes import create_runtime

        self.exported = ExportedModel.read(model_dir)
        device = device or default_device()
        self.window = recorded_window(self.exported) if slide is None else (slide or None)
        self.slide_batch_size = slide_batch_size
        if self.window:
            check_window(self.exported, self.window)
            self.transforms = preprocessing(unfitted_transforms(self.exported.get(TRANSFORMS_KEY),
                                                                self.exported.get(INPUT_SHAPE_KEY)))
        else:
            self.transforms = self.exported.compose
        self.choice = choose_runtime(self.exported, backend, device, precision, threads, input_shape)
        self.runtime = TimedRuntime(create_runtime(self.exported, self.choice.backend, device,
                                                   self.choice.precision, threads, **runtime_options))
        self.name = self.runtime.name
        self.palette, self.class_names = self.exported.get(PALETTE_KEY), self.exported.get(CLASS_NAMES_KEY)

    def __call__(self, inputs):
        from .deploy.exporting.exported_model import labels_from_output
        from .deploy.running.sliding_window import check_image_fits, slide_labels

        if self.window:
            labels = []
            for image, trans_info in inputs:
                check_image_fits(self.exported, image.shape[1:])
                labels.append(labels_from_output(slide_labels(self.runtime, image, self.window,
                                                              self.slide_batch_size), trans_info))
            return labels
        shapes = {image.shape for image, _ in inputs}
        if len(shapes) == 1:
            outputs = self.runtime(np.stack([image for image, _ in inputs]))
        else:
            outputs = [self.runtime(image[np.newaxis])[0] for image, _ in inputs]
        return [labels_from_output(output, trans_info) for output, (_, trans_info) in zip(outputs, inputs)]


class _DygraphModel:
    """A config's model or an ``nn.Layer``, run by PaddleSeg's ``inference``/``aug_inference``;
    preprocessing, test options and classes from the config (``build_model``'s for its models)."""

    name = DYGRAPH

    def __init__(self, model, weights, device, test_config, opts, slide):
        import paddle

        from .api import model_source
        from .datasets.class_info import class_names, palette
        from .deploy.exporting.exported_model import preprocessing

        if device:
            paddle.set_device(device)
        source = model_source(model, weights, opts)
        self.model, classes = source.model, source.classes
        self.transforms = preprocessing(source.transforms or [])  # a config without val transforms: none
        config_test = source.config.test_config if source.config is not None else {}
        config_test.pop("aug_eval", None)
        self.test_config = config_test if test_config is None else dict(test_config)
        if slide is False:
            self.test_config.pop("is_slide", None)
        elif slide:
            self.test_config.update(is_slide=True, crop_size=list(slide.crop_size), stride=list(slide.stride))
        self.palette = palette(classes) if classes else None
        self.class_names = class_names(classes) if classes else None
        self.model.eval()

    def __call__(self, inputs):
        import paddle
        from paddleseg.core.infer import aug_inference, inference

        augment = self.test_config.get("aug_pred", False)
        options = {key: self.test_config[key] for key in AUGMENTATION_KEYS if key in self.test_config}
        slide = {key: self.test_config[key] for key in SLIDING_KEYS if key in self.test_config}
        labels = []
        with paddle.no_grad():
            for image, trans_info in inputs:
                batch = paddle.to_tensor(image[np.newaxis])
                if augment:
                    pred, _ = aug_inference(self.model, batch, trans_info, **options, **slide)
                else:
                    pred, _ = inference(self.model, batch, trans_info=trans_info, **slide)
                labels.append(pred.numpy()[0, 0].astype("uint8"))
        return labels
