"""The Python API behind the ``paddleseg`` command: read a config, build its model, export it.

A config is a file, a shipped config's name (``paddleseg configs``) or a dict; overrides are a dict
of dotted keys, as ``--opts`` gives them. Everything goes through ``checks.load_config`` (every
mistake named by file and key) and PaddleSeg's ``SegBuilder``; weights load through the checked
loader (either checkpoint layout). ``Predictor`` (predictor.py) segments images.
"""
import contextlib
import os
import tempfile
from collections import namedtuple

import yaml

from .deploy.int8.agreement import MAX_MIOU_DROP, MIN_AGREEMENT
from .deploy.int8.int8_search import INT8_SEARCH_SECONDS
from .deploy.int8.quantize import CALIBRATION_IMAGES
from .errors import ConfigError, UserError
from .shipped_configs import resolve_config

BASE_KEY = "_base_"
CONFIG_ATTRIBUTE = "built_from_config"  # the Config build_model built a model from, on the model

ModelSource = namedtuple("ModelSource", ["model", "config", "builder", "transforms", "classes"])


def default_device():
    """"gpu" when Paddle has CUDA and sees a GPU, else "cpu"."""
    import paddle
    return "gpu" if paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0 else "cpu"


def load(config, sections=(), opts=None, num_classes=None, model_only=False, **overrides):
    """PaddleSeg's (Config, SegBuilder) for ``config``, checked before anything is built.

    Args:
        config (str | dict | Config): A config file, a shipped config's name, the config as a
            dict (its ``_base_`` a shipped name, or a path relative to the working directory), or
            a loaded PaddleSeg ``Config`` (used as it is: the other arguments then do nothing).
        sections (tuple[str]): Dataset sections whose files must exist.
        opts (dict | list[str], optional): Overrides: {"model.backbone.pretrained": None}, or
            ``key=value`` strings as ``--opts`` takes them.
        num_classes (int, optional): Set in the model and in the datasets that name it.
        model_only (bool): Only the model will be built: its num_classes is the caller's to
            choose, and the datasets' class counts are not checked against it.
        overrides: learning_rate, batch_size, iters, as PaddleSeg's tools take them.
    """
    from paddleseg.cvlibs import Config, SegBuilder
    from paddleseg.cvlibs.config import parse_from_yaml

    from .checks import load_config

    if isinstance(config, Config):
        return config, SegBuilder(config)
    with _config_file(config) as path:
        opts = _opts_list(opts)
        if num_classes is not None:
            dic = parse_from_yaml(path) if os.path.isfile(path) else {}
            sections_with_classes = [section for section in ("train_dataset", "val_dataset")
                                     if "num_classes" in (dic.get(section) or {})]
            opts += [f"{key}.num_classes={int(num_classes)}" for key in ["model", *sections_with_classes]]
        loaded = load_config(path, sections=sections, opts=opts or None, model_only=model_only, **overrides)
    return loaded, SegBuilder(loaded)


def build_model(config, num_classes=None, weights=None, opts=None):
    """The model ``config`` names (``LiteSeg`` for the shipped configs), with ``weights`` loaded.

    ``Predictor`` and ``export`` given this model preprocess as the config's val_dataset does and
    colour by its dataset, as when given the config itself.

    Args:
        config (str | dict): A config file, a shipped config's name, or a dict (see ``load``).
        num_classes (int, optional): Classes to predict (default: the config's).
        weights (str, optional): A checkpoint (.pdparams) of this plugin's or PaddleSeg's official
            PP-LiteSeg layout; loaded all or nothing, except classifiers of another num_classes.
        opts (dict, optional): Dotted keys to values, e.g. {"model.backbone.pretrained": None}.
    """
    loaded, builder = load(config, opts=opts, num_classes=num_classes, model_only=True)
    model = model_with_weights(builder, weights, model_only=True)
    setattr(model, CONFIG_ATTRIBUTE, loaded)
    return model


def config_of(model):
    """The Config ``build_model`` built ``model`` from (``Predictor`` and ``export`` then use its
    val transforms and classes), or None for a model made otherwise."""
    return getattr(model, CONFIG_ATTRIBUTE, None)


def model_with_weights(builder, weights=None, model_only=False):
    """The builder's model, holding the checkpoint at ``weights`` (either layout) when given.

    ``weights`` replace every tensor, so the config's ``pretrained`` files (an ImageNet backbone's
    URL) are then not fetched: an offline deployment machine needs only the checkpoint. With
    ``model_only`` a model section that names its num_classes is built alone: PaddleSeg's builder
    would insist on the train dataset's class count, which a model built to fine-tune on other
    classes does not have.
    """
    from paddleseg.utils import logger

    if weights:
        skipped = _drop_pretrained(builder.config.dic.get("model", {}))
        if skipped:
            logger.info(f"{weights} gives the weights: not fetching "
                        + ", ".join(f"{key} ({value})" for key, value in skipped))
    model_config = builder.config.model_cfg
    model = builder.build_component(model_config) if model_only and "num_classes" in model_config else builder.model
    return with_weights(model, weights)


def _drop_pretrained(section, prefix="model"):
    """Set every ``pretrained`` in the model config (and its parts) to None; return [(key, value)]."""
    dropped = []
    for key, value in section.items():
        if key == "pretrained" and value:
            dropped.append((f"{prefix}.pretrained", value))
            section[key] = None
        elif isinstance(value, dict):
            dropped += _drop_pretrained(value, f"{prefix}.{key}")
    return dropped


def with_weights(model, weights=None):
    """``model`` holding the checkpoint at ``weights`` (either layout) when given."""
    from .weights.layouts import load_pretrained
    if weights:
        load_pretrained(model, weights)
    return model


def model_source(model_or_config, weights=None, opts=None):
    """What ``export`` and ``Predictor`` take from a config or a model, found one way for both.

    Args:
        model_or_config: A config (file, shipped name, dict or loaded Config) or an ``nn.Layer``
            (one from ``build_model`` as its config; any other has no config).
        weights (str, optional): A checkpoint the model then holds (either layout).
        opts (dict, optional): Config overrides, as in ``build_model``.
    Returns:
        ModelSource: ``model`` holding ``weights``; the ``config`` and ``builder`` (None without a
        config); ``transforms``, the preprocessing as config entries (the config's val_dataset
        transforms, None where it names none; PaddleSeg's default Normalize without a config);
        ``classes``, what knows the class names and colours (None where nothing does).
    """
    import paddle

    from .deploy.exporting.exported_model import DEFAULT_TRANSFORMS

    is_model = isinstance(model_or_config, paddle.nn.Layer)
    config = config_of(model_or_config) if is_model else model_or_config
    if config is None:
        return ModelSource(with_weights(model_or_config, weights), None, None, DEFAULT_TRANSFORMS, None)
    config, builder = load(config, opts=opts)
    model = with_weights(model_or_config, weights) if is_model else model_with_weights(builder, weights)
    return ModelSource(model, config, builder, config.val_dataset_cfg.get("transforms"),
                       class_source(config, builder))


def class_source(config, builder):
    """What knows the config's classes (names, colours): its val (else train) dataset, or that
    dataset's registered class when its files are not here."""
    from paddleseg.cvlibs import manager

    from .datasets.config_datasets import config_dataset

    for section in ("val_dataset", "train_dataset"):
        if config.dic.get(section):
            dataset, _ = config_dataset(builder, section)
            return dataset or manager.DATASETS.components_dict.get(config.dic[section].get("type"))
    return None


def export(model_or_config, save_dir, weights=None, onnx=False, int8=False, input_shape=None,
           output_op=None, calib_images=None, calib_num=CALIBRATION_IMAGES, opts=None,
           min_agreement=MIN_AGREEMENT, max_miou_drop=MAX_MIOU_DROP, int8_search_seconds=INT8_SEARCH_SECONDS,
           formats=()):
    """Write an inference model to ``save_dir``, as ``paddleseg export`` does.

    Args:
        model_or_config: A config (file, shipped name or dict; its val_dataset transforms become
            the deployed preprocessing and its dataset's class names and colours go into
            deploy.yaml) or a model (``build_model``'s: as its config; any other: PaddleSeg's
            default Normalize).
        save_dir (str): Output directory: model.json, model.pdiparams, deploy.yaml (+ ONNX).
        weights (str, optional): A checkpoint to export (either layout).
        onnx (bool): Also write model.onnx (needs the ``onnx`` extra).
        int8 (bool): Also write int8 models calibrated on ``calib_num`` images (implies onnx);
            each int8 runtime's file is chosen by speed and agreement with fp32 on ``calib_num``
            images of the config's val_dataset (else the calibration images): see ``deploy.int8.int8_choice``.
            Where none agrees ``min_agreement``, a search keeps the fewest layers fp32 that bring
            it there (and, on the labelled val images, the mIoU drop to ``max_miou_drop``, a
            fraction of 1 as mIoU is measured here: 0.005 is the command line's 0.5 points), in
            about ``int8_search_seconds`` per runtime (0: none): ``deploy.int8.int8_search``.
        input_shape (list[int], optional): Fixed N C H W (default: N, H and W stay dynamic).
        output_op (str, optional): "argmax", "softmax" or "none"; default "argmax", or "none" where
            the config's test_config slides windows (``is_slide``): sliding averages logits. Its
            window and stride then go into deploy.yaml, and ``infer`` slides by default.
        calib_images (str, optional): Calibration images: an image, a folder or a file list
            (default: the config's train_dataset images).
        opts (dict, optional): Config overrides, as in ``build_model``.
        formats (list[str]): Also write files for devices, each checked against onnxruntime fp32
            on ``calib_num`` images (the val_dataset's, else the calibration images): "ncnn" (fp32
            and fp16; the ``ncnn`` extra and pnnx) and "tflite" (fp32, fp16, and int8 where
            ``int8``; the ``tflite`` extra). They need ``input_shape`` 1 3 H W. See
            ``deploy.devices.device_export``.
    Returns:
        ExportedModel: The directory written (``.deploy`` is its deploy.yaml's Deploy section).
    """
    from .datasets.class_info import class_names, palette
    from .deploy.int8.calibration_data import agreement_set, calibration_set
    from .deploy.exporting.export import write_inference_model
    from .deploy.exporting.fixed_shape import fixed_batch
    from .deploy.int8.int8_choice import write_int8_models

    if int8 and fixed_batch(input_shape) not in (None, 1):
        raise UserError(f"input_shape {list(input_shape)}: int8 calibrates and searches one image at a time; "
                        "export int8 with a batch of 1 or a dynamic one", argument="input_shape")
    formats = list(dict.fromkeys(formats))
    if formats:  # checked before anything is written
        from .deploy.devices.device_export import check_device_request
        check_device_request(formats, input_shape)
    source = model_source(model_or_config, weights, opts)
    if source.transforms is None:
        raise ConfigError(f"{config_label(model_or_config)}: val_dataset.transforms is needed; it "
                          "becomes the deployed preprocessing")
    classes = source.classes
    slide = _slide_settings(source.config)
    exported = write_inference_model(source.model, save_dir, source.transforms, input_shape=input_shape,
                                     output_op=output_op or ("none" if slide else "argmax"),
                                     onnx=onnx or int8 or bool(formats),
                                     palette=palette(classes) if classes else None,
                                     class_names=class_names(classes) if classes else None, slide=slide)
    if int8:  # calibrated and scored at the input the model takes (resized to a fixed shape)
        builder = source.builder
        images = calibration_set(config_label(model_or_config), builder, exported.transforms, calib_images, calib_num)
        agreement_images, labels, ignore_index = (agreement_set(builder, exported.transforms, calib_num)
                                                  or (None, None, 255))
        exported = write_int8_models(exported, images, agreement_images, labels, min_agreement, max_miou_drop,
                                     int8_search_seconds, ignore_index).write()
    if formats:
        from .deploy.devices.device_export import device_images, write_device_models
        calibration, check = device_images(config_label(model_or_config), source.builder, exported.transforms,
                                           calib_images, calib_num)
        exported = write_device_models(exported, formats, calibration, check, int8=int8)
    return exported


def _slide_settings(config):
    """The sliding window a config's test_config sets ({crop_size, stride}, as [W, H]), or None."""
    test = config.test_config if config is not None else {}
    if not test.get("is_slide"):
        return None
    if not (test.get("crop_size") and test.get("stride")):
        raise ConfigError("test_config.is_slide needs test_config.crop_size and test_config.stride")
    return {"crop_size": [int(size) for size in test["crop_size"]], "stride": [int(size) for size in test["stride"]]}


def config_label(config):
    """How messages name a config: its file, or "config" for a dict or a loaded Config."""
    return resolve_config(config) if isinstance(config, (str, os.PathLike)) else "config"


@contextlib.contextmanager
def _config_file(config):
    """The file of a config path or name, or a dict written to a temporary file (which errors then
    call "config")."""
    if not isinstance(config, dict):
        yield resolve_config(config)
        return
    dic = dict(config)
    if BASE_KEY in dic:
        bases = dic[BASE_KEY] if isinstance(dic[BASE_KEY], list) else [dic[BASE_KEY]]
        dic[BASE_KEY] = [os.path.abspath(resolve_config(base)) for base in bases]
    with tempfile.TemporaryDirectory(prefix="paddleseg_liteseg_config_") as folder:
        path = os.path.join(folder, "config.yml")
        with open(path, "w") as file:
            yaml.safe_dump(dic, file, sort_keys=False)
        try:
            yield path
        except ConfigError as error:  # name the dict the caller gave, not the temporary file
            error.args = (str(error).replace(path, config_label(config)),)
            raise


def _opts_list(opts):
    """``key=value`` strings (PaddleSeg's ``--opts``; values read as Python literals) from a dict."""
    if opts is None:
        return []
    if isinstance(opts, dict):
        return [f"{key}={value!r}" for key, value in opts.items()]
    return list(opts)
