"""Read a config as PaddleSeg's tools do, with every mistake a ``ConfigError`` naming the file and key.

PaddleSeg's ``Config`` stops at the first problem, with a bare AssertionError ("Can not update
model.foo, because it is not in config.") or a RuntimeError from one of its sanity rules.
``load_config`` parses the file, checks the ``--opts`` keys, runs ``check_config`` (every problem
at once) and only then PaddleSeg's own rules, which also fill in num_classes, ignore_index and
repeated loss types.
"""
import os

import yaml
from paddleseg.cvlibs import Config
from paddleseg.cvlibs.config import parse_from_yaml
from paddleseg.cvlibs.config_checker import ConfigChecker

from ..errors import ConfigError
from .config_checks import check_config, closest


def load_config(path, sections=None, opts=None, learning_rate=None, batch_size=None, iters=None, model_only=False):
    """PaddleSeg's ``Config(path, ...)``, checked; raises ``ConfigError`` listing every problem.

    Args:
        path (str): The config file (.yml).
        sections (tuple[str], optional): Dataset sections that will be used (default: those the
            config has); see ``check_config``.
        opts (list[str], optional): ``key=value`` overrides, as PaddleSeg's ``--opts``.
        learning_rate, batch_size, iters (optional): Overrides, as PaddleSeg's tools take them.
        model_only (bool): Only the model will be built (``build_model``): its num_classes is the
            caller's to choose, whatever the datasets hold; the dataset sections that name a
            num_classes take the model's, so PaddleSeg's own rules agree.
    """
    _check_overrides(path, _parse(path), opts, learning_rate)
    # PaddleSeg's rules run after check_config, which says more, and more at once.
    config = Config(path, learning_rate=learning_rate, batch_size=batch_size, iters=iters, opts=opts,
                    checker=ConfigChecker([]))
    check_config(config, path, sections, model_only)
    if model_only:
        _datasets_follow_the_model(config)
    try:
        Config._build_default_checker().apply_all_rules(config)
    except RuntimeError as error:  # PaddleSeg wraps the rule's own error, which says what is wrong
        raise ConfigError(f"{path}: {error.__context__ or error}") from None
    return config


def _datasets_follow_the_model(config):
    """Give the dataset sections that name a num_classes the model's (a model-only build)."""
    classes = (config.dic.get("model") or {}).get("num_classes")
    for section in ("train_dataset", "val_dataset"):
        if classes is not None and "num_classes" in (config.dic.get(section) or {}):
            config.dic[section]["num_classes"] = classes


def _parse(path):
    """The config as a dict, its ``_base_`` files merged in."""
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: config file not found")
    if not path.endswith((".yml", ".yaml")):
        raise ConfigError(f"{path}: not a YAML config (.yml or .yaml)")
    try:
        dic = parse_from_yaml(path)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    except FileNotFoundError as error:
        raise ConfigError(f"{path}: _base_ file not found: {error.filename}") from None
    except (TypeError, AttributeError):  # PaddleSeg's parser reads an empty file (None) as a mapping
        raise ConfigError(f"{path}: the config or one of its _base_ files is empty or not a mapping of "
                          "keys") from None
    if not isinstance(dic, dict):
        raise ConfigError(f"{path}: the config must be a mapping of keys, got {dic!r}")
    return dic


def _check_overrides(path, dic, opts, learning_rate):
    """Overrides PaddleSeg would refuse with an AssertionError (or a KeyError), as one ConfigError."""
    problems = []
    for item in opts or ():
        if item.count("=") != 1:
            problems.append(f"--opts {item}: expected key=value (one '='), e.g. batch_size=4")
            continue
        # PaddleSeg sets the last key whatever it is, but every key before it must exist.
        keys = item.split("=")[0].split(".")
        node = dic
        for depth, key in enumerate(keys[:-1]):
            if not isinstance(node, dict) or key not in node:
                known = node if isinstance(node, dict) else {}
                match = closest(key, known)
                problems.append(f"--opts {item}: {'.'.join(keys[:depth + 1])} is not in the config"
                                + (f"; did you mean {'.'.join([*keys[:depth], match])!r}?" if match else ""))
                break
            node = node[key]
    if learning_rate is not None and not isinstance(dic.get("lr_scheduler"), dict):
        problems.append("lr_scheduler: missing, so the learning rate override has nothing to set")
    if problems:
        raise ConfigError("\n".join(f"{path}: {problem}" for problem in problems))
