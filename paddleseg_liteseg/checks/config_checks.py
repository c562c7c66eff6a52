"""Static checks of a PaddleSeg config, before anything is built: every problem, named by file and key.

PaddleSeg meets config mistakes one at a time: while building a part ("Tried to create a ...
object"), or deep inside training (a loss count that does not match the model's logits).
``check_config`` reads only the parsed dict and PaddleSeg's registries, in milliseconds, and reports
every problem at once: missing sections, ``type:`` names nothing registers (with the closest name
that does), arguments a part does not take, num_classes that disagree, missing dataset folders and
file lists, a loss count that does not match the model's outputs, and sizes no transform can use.
"""
import difflib
import inspect
import os

import paddle
from paddleseg.cvlibs import SegBuilder, manager
from paddleseg.datasets import Dataset

from ..datasets.own_data_configs import LITESEG_STRIDE  # a crop under it is a typo
from ..errors import ConfigError

# Top-level keys PaddleSeg's Config reads, and those its DefaultPrimaryRule requires.
KNOWN_KEYS = ("batch_size", "iters", "to_static_training", "model", "loss", "distill_loss", "optimizer",
              "lr_scheduler", "train_dataset", "val_dataset", "test_config", "export")
REQUIRED_KEYS = ("batch_size", "iters", "train_dataset", "optimizer", "lr_scheduler", "loss", "model")
DATASET_SECTIONS = ("train_dataset", "val_dataset")
DATASET_MODES = ("train", "val", "test")
# Where a ``type:`` is looked up first for suggestions (PaddleSeg accepts any registry anywhere).
SECTION_REGISTRIES = {"model": manager.MODELS, "train_dataset": manager.DATASETS,
                      "val_dataset": manager.DATASETS}
CHILD_REGISTRIES = {"backbone": manager.BACKBONES, "transforms": manager.TRANSFORMS,
                    "types": manager.LOSSES, "losses": manager.LOSSES}
OPTIMIZER_ALIASES = ("sgd", "adam")  # lower-case names PaddleSeg's optimizer builder also accepts
WARMUP_KEYS = ("warmup_iters", "warmup_start_lr")  # consumed by PaddleSeg's lr_scheduler builder
# Models whose number of logits in training is known: one per entry of this argument.
TRAINING_LOGITS = {"LiteSeg": "backbone_indices", "PPLiteSeg": "backbone_indices"}
# Losses that score one logit channel a pixel (sigmoid); every other loss is a softmax over the classes.
ONE_CHANNEL_LOSSES = ("BCELoss", "LovaszHingeLoss", "MixedLoss")
# Transform arguments that are [width, height] in pixels, one length in pixels, or a (low, high) range.
SIZE_ARGUMENTS = {"RandomPaddingCrop": "crop_size", "Resize": "target_size", "Padding": "target_size",
                  "ScalePadding": "target_size", "RandomAffine": "size"}
LENGTH_ARGUMENTS = {"ResizeByShort": "short_size", "ResizeByLong": "long_size"}
RANGE_ARGUMENTS = {"ResizeStepScaling": ("min_scale_factor", "max_scale_factor"),
                   "ResizeRangeScaling": ("min_value", "max_value")}


def check_config(config, path, sections=None, model_only=False):
    """Raise one ``ConfigError`` listing every problem of a parsed config, one "file: key: what" a line.

    Args:
        config (paddleseg.cvlibs.Config): The parsed config; nothing is built from it.
        path (str): The config file, for the messages.
        sections (tuple[str], optional): Dataset sections that will be used, e.g. ``("train_dataset",)``
            to train without evaluating: they must exist, with their folders and file lists.
            Default: the dataset sections the config has.
        model_only (bool): Only the model will be built: its num_classes is the caller's to
            choose, so the datasets' class counts are not compared with it.
    """
    dic, builder = config.dic, SegBuilder(config)
    if sections is None:
        sections = [section for section in DATASET_SECTIONS if dic.get(section) is not None]
    problems = [*_section_problems(dic, sections), *_type_problems(dic, builder),
                *_num_classes_problems(dic, builder, model_only), *_dataset_path_problems(dic, sections, builder),
                *_loss_problems(dic, builder), *_size_problems(dic, builder)]
    if problems:
        raise ConfigError("\n".join(f"{path}: {key}: {message}" for key, message in problems))


def closest(name, candidates, cutoff=0.6):
    """The candidate most like ``name`` ignoring case (else the first one starting with it), or None."""
    lowered = {str(candidate).lower(): candidate for candidate in candidates}
    name = str(name).lower()
    match = difflib.get_close_matches(name, lowered, n=1, cutoff=cutoff)
    match = match or sorted(candidate for candidate in lowered if name and candidate.startswith(name))[:1]
    return lowered[match[0]] if match else None


def _did_you_mean(name, candidates):
    match = closest(name, candidates)
    return f"; did you mean {match!r}?" if match else ""


def _section_problems(dic, sections):
    typos = {}
    for key in dic:
        match = None if key in KNOWN_KEYS else closest(key, KNOWN_KEYS, cutoff=0.8)
        if match:
            typos[match] = key
            yield key, f"unknown key; did you mean {match!r}?"
    for key in dict.fromkeys((*REQUIRED_KEYS, *sections)):
        if dic.get(key) is None and key not in typos:
            yield key, "missing"
        elif key in dic and key not in ("batch_size", "iters") and not isinstance(dic[key], dict):
            yield key, f"must be a mapping of keys, got {dic[key]!r}"
    for key in ("batch_size", "iters"):
        if key in dic and not _positive_int(dic[key]):
            yield key, f"must be a positive integer, got {dic[key]!r}"


def _type_problems(dic, builder):
    for section in ("model", *DATASET_SECTIONS, "optimizer", "lr_scheduler"):
        if isinstance(dic.get(section), dict) and "type" not in dic[section]:
            yield f"{section}.type", "missing"
    for section in ("model", *DATASET_SECTIONS, "loss", "distill_loss"):
        for key, part, registry in _typed_parts(dic.get(section), section, SECTION_REGISTRIES.get(section)):
            component = _component(builder, part["type"])
            if component is None:
                yield f"{key}.type", _unknown_type(part["type"], registry)
            else:
                yield from _argument_problems(key, part, component)
    optimizer = dic.get("optimizer")
    if isinstance(optimizer, dict) and "type" in optimizer:
        names = manager.OPTIMIZERS.components_dict
        if optimizer["type"] not in (*names, *OPTIMIZER_ALIASES):
            yield "optimizer.type", (f"unknown optimizer {optimizer['type']!r}"
                                     f"{_did_you_mean(optimizer['type'], names)}")
    yield from _lr_scheduler_problems(dic.get("lr_scheduler"))


def _lr_scheduler_problems(scheduler):
    if not isinstance(scheduler, dict) or "type" not in scheduler:
        return
    names = [name for name, value in vars(paddle.optimizer.lr).items()
             if isinstance(value, type) and issubclass(value, paddle.optimizer.lr.LRScheduler)]
    if scheduler["type"] not in names:
        yield "lr_scheduler.type", (f"unknown scheduler {scheduler['type']!r}, not in paddle.optimizer.lr"
                                    f"{_did_you_mean(scheduler['type'], names)}")
        return
    yield from _argument_problems("lr_scheduler", scheduler, getattr(paddle.optimizer.lr, scheduler["type"]),
                                  also_allowed=WARMUP_KEYS)
    if "warmup_iters" in scheduler and "warmup_start_lr" not in scheduler:
        yield "lr_scheduler.warmup_start_lr", "missing; warmup_iters needs it"


def _typed_parts(value, key, registry=None):
    """(key, dict, registry to suggest from) for every dict with a ``type`` in ``value``, outermost first."""
    if isinstance(value, dict):
        if "type" in value:
            yield key, value, registry
        for child_key, child in value.items():
            yield from _typed_parts(child, f"{key}.{child_key}", CHILD_REGISTRIES.get(child_key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _typed_parts(item, f"{key}[{index}]", registry)


def _component(builder, name):
    """The class or function registered as ``name``, looked up as PaddleSeg's builder does, or None."""
    if not isinstance(name, str):
        return None
    try:
        return builder.load_component_class(name)
    except RuntimeError:
        return None


def _unknown_type(name, registry):
    if not isinstance(name, str):
        return f"type must be a registered name, got {name!r}"
    everything = [registered for each in vars(manager).values() if isinstance(each, manager.ComponentManager)
                  for registered in each.components_dict]
    match = (registry and closest(name, registry.components_dict)) or closest(name, everything)
    return f"unknown type {name!r}" + (f"; did you mean {match!r}?" if match else
                                       " (no registered name is close; is its package imported?)")


def _parameters(component):
    """The named parameters of a class or function, or None when it takes ``**kwargs`` or has no signature."""
    try:
        parameters = inspect.signature(component).parameters
    except (TypeError, ValueError):
        return None
    if any(parameter.kind is parameter.VAR_KEYWORD for parameter in parameters.values()):
        return None
    return parameters


def _argument_problems(key, part, component, also_allowed=()):
    parameters = _parameters(component)
    if parameters is None:
        return
    allowed = [*parameters, *also_allowed]
    for name in part:
        if name != "type" and name not in allowed:
            yield f"{key}.{name}", (f"{component.__name__} takes no argument {name!r}"
                                    + (_did_you_mean(name, allowed) or f"; it takes {', '.join(allowed)}"))


def _default(component, argument):
    parameters = _parameters(component) or {}
    parameter = parameters.get(argument)
    return None if parameter is None or parameter.default is parameter.empty else parameter.default


def _num_classes_problems(dic, builder, model_only=False):
    # (key, owner or None, value) for every place that sets num_classes; the datasets first: the data decides.
    sources = []
    for section in () if model_only else DATASET_SECTIONS:
        part = dic.get(section)
        if not isinstance(part, dict):
            continue
        component = _component(builder, part.get("type"))
        if "num_classes" in part:
            sources.append((f"{section}.num_classes", None, part["num_classes"]))
        elif component is not None and hasattr(component, "NUM_CLASSES"):
            sources.append((f"{section}.type", f"{section} ({part['type']})", component.NUM_CLASSES))
    if isinstance(dic.get("model"), dict) and "num_classes" in dic["model"]:
        sources.append(("model.num_classes", None, dic["model"]["num_classes"]))
    for section in ("loss", "distill_loss", *(f"{s}.transforms" for s in DATASET_SECTIONS)):
        value = dic
        for key in section.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        for key, part, _ in _typed_parts(value, section):
            if "num_classes" in part:
                sources.append((f"{key}.num_classes", None, part["num_classes"]))

    valid = []
    for key, owner, value in sources:
        if _positive_int(value):
            valid.append((key, owner, value))
        else:
            yield key, f"num_classes must be a positive integer, got {value!r}"
    if not valid:
        return
    yield from _single_class_problems(dic, valid)
    reference_key, reference_owner, reference = valid[0]
    said = f"{reference_owner} has {reference} classes" if reference_owner else f"{reference_key} is {reference}"
    for key, owner, value in valid[1:]:
        if value != reference:
            claim = f"{owner} has {value} classes" if owner else f"{value}"
            yield key, f"{claim}, but {said}"


def _single_class_problems(dic, sources):
    """num_classes 1 with a softmax loss: the one class is always right, so nothing is learned."""
    losses = [part["type"] for _, part, _ in _typed_parts(dic.get("loss"), "loss")]
    if not losses or all(loss in ONE_CHANNEL_LOSSES for loss in losses):
        return
    for key, _, value in sources:
        if value == 1:
            yield key, ("1 class: a softmax over one class always predicts it, so nothing is learned; a "
                        "binary task has 2 classes, background (0) and foreground (1): num_classes: 2")


def _dataset_path_problems(dic, sections, builder):
    for section in sections:
        part = dic.get(section)
        component = _component(builder, part.get("type")) if isinstance(part, dict) else None
        if component is None:
            continue
        parameters = _parameters(component) or {}
        for name, parameter in parameters.items():
            if parameter.default is parameter.empty and name not in part:
                yield f"{section}.{name}", f"missing; {part['type']} needs it"
        root = part.get("dataset_root")
        if root is not None and not os.path.isdir(str(root)):
            yield f"{section}.dataset_root", f"folder not found: {root}{_relative_note(root)}"
        if "mode" not in parameters:
            continue
        mode = str(part.get("mode", _default(component, "mode"))).lower()  # PaddleSeg lowers it too
        if mode not in DATASET_MODES:
            if "mode" in part:
                yield f"{section}.mode", (f"must be one of {', '.join(DATASET_MODES)}, got {part['mode']!r}"
                                          + _did_you_mean(mode, DATASET_MODES))
            continue
        list_key = f"{mode}_path"
        list_path = part.get(list_key)
        if list_path is not None and not os.path.isfile(str(list_path)):
            yield f"{section}.{list_key}", f"file list not found: {list_path}{_relative_note(list_path)}"
        elif list_path is None and component.__init__ is Dataset.__init__:
            yield f"{section}.{list_key}", f"missing; {part['type']} in mode '{mode}' reads its file list from it"


def _relative_note(path):
    return "" if os.path.isabs(str(path)) else f" (relative to the working directory {os.getcwd()})"


def _loss_problems(dic, builder):
    loss = dic.get("loss")
    if not isinstance(loss, dict):
        return
    types, coef = loss.get("types"), loss.get("coef")
    if not isinstance(types, list) or not types:
        yield "loss.types", f"must be a list of losses, e.g. [{{type: CrossEntropyLoss}}], got {types!r}"
    if not isinstance(coef, list) or not coef:
        yield "loss.coef", f"must be a list of weights, one per model output, got {coef!r}"
        return
    if isinstance(types, list) and len(types) not in (1, len(coef)):
        yield "loss.types", (f"{len(types)} losses for {len(coef)} coef; give one loss for every output "
                             "or one per coef")
    model, model_type = dic.get("model"), _model_type(dic)
    component = _component(builder, model_type)
    if model_type not in TRAINING_LOGITS or component is None:
        return
    argument = TRAINING_LOGITS[model_type]
    per_stage = model.get(argument, _default(component, argument))
    if isinstance(per_stage, (list, tuple)) and len(per_stage) != len(coef):
        yield "loss.coef", (f"{len(coef)} weights, but {model_type} returns {len(per_stage)} logits in "
                            f"training (one per model.{argument} entry); give one coef per logit")


def _size_problems(dic, builder):
    model_type = _model_type(dic)
    for section in DATASET_SECTIONS:
        part = dic.get(section)
        transforms = part.get("transforms") if isinstance(part, dict) else None
        for index, transform in enumerate(transforms if isinstance(transforms, list) else ()):
            if not isinstance(transform, dict):
                continue
            key, name = f"{section}.transforms[{index}]", transform.get("type")
            if SIZE_ARGUMENTS.get(name) in transform:
                argument = SIZE_ARGUMENTS[name]
                size = transform[argument]
                if not _is_size(size):
                    yield f"{key}.{argument}", f"must be [width, height], two positive integers, got {size!r}"
                elif section == "train_dataset" and name == "RandomPaddingCrop" and model_type in TRAINING_LOGITS \
                        and min(size) < LITESEG_STRIDE:
                    yield f"{key}.{argument}", (
                        f"{list(size)} is under {LITESEG_STRIDE} px, the stride of {model_type}'s deepest "
                        f"features: its context module would pool less than one pixel; crop at least "
                        f"{LITESEG_STRIDE}x{LITESEG_STRIDE}")
            if LENGTH_ARGUMENTS.get(name) in transform and not _positive_int(transform[LENGTH_ARGUMENTS[name]]):
                yield f"{key}.{LENGTH_ARGUMENTS[name]}", (f"must be a positive integer, got "
                                                          f"{transform[LENGTH_ARGUMENTS[name]]!r}")
            if name in RANGE_ARGUMENTS:
                yield from _range_problems(key, transform, RANGE_ARGUMENTS[name], _component(builder, name))
    test_config = dic.get("test_config")
    if isinstance(test_config, dict) and test_config.get("is_slide"):
        for argument in ("crop_size", "stride"):
            if not _is_size(test_config.get(argument)):
                yield f"test_config.{argument}", (f"must be [width, height], two positive integers, for "
                                                  f"is_slide, got {test_config.get(argument)!r}")


def _range_problems(key, transform, arguments, component):
    low, high = (transform.get(argument, _default(component, argument)) for argument in arguments)
    if not all(isinstance(value, (int, float)) and value > 0 for value in (low, high)):
        yield f"{key}.{arguments[0]}", (f"{arguments[0]} and {arguments[1]} must be positive numbers, got "
                                        f"{low!r}, {high!r}")
    elif low > high:
        yield f"{key}.{arguments[0]}", f"{arguments[0]} ({low}) is larger than {arguments[1]} ({high})"


def _model_type(dic):
    model = dic.get("model")
    return model.get("type") if isinstance(model, dict) else None


def _positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_size(value):
    return isinstance(value, (list, tuple)) and len(value) == 2 and all(map(_positive_int, value))
