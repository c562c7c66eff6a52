"""The configs shipped with the package: found by file stem, listed with what each one targets.

The repository's top-level ``configs/`` is their one source: a wheel carries it as the package
data ``paddleseg_liteseg/configs/`` (setup.cfg maps it there), a source checkout or editable
install reads it in place. ``_base_`` files resolve next to the config, so names work from any
directory. What each config targets (dataset, model, the paper's mIoU) is read from the table in
``configs/README.md``, the one place that states it.
"""
import difflib
import os

from .errors import ConfigError

CONFIG_SUFFIXES = (".yml", ".yaml")
BASE_FOLDER = "_base_"
TARGETS_FILE = "README.md"
# Headers of the configs/README.md table columns that ``targets`` reads.
CONFIG_COLUMN, MODEL_COLUMN, MIOU_COLUMN = "config", "model", "target mIoU (paper)"


def config_root():
    """The folder holding the shipped configs: the installed package data, else the checkout's."""
    package = os.path.dirname(os.path.abspath(__file__))
    for root in (os.path.join(package, "configs"), os.path.join(os.path.dirname(package), "configs")):
        if os.path.isfile(os.path.join(root, TARGETS_FILE)):
            return root
    raise ConfigError(f"the shipped configs are missing: neither {package}/configs nor "
                      f"{os.path.dirname(package)}/configs exists (a broken install?)")


def shipped_configs():
    """{file stem: absolute path} of every shipped config (``_base_`` files are parts, not configs)."""
    root = config_root()
    found = {}
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if name != BASE_FOLDER)
        for name in sorted(files):
            stem, suffix = os.path.splitext(name)
            if suffix in CONFIG_SUFFIXES:
                found[stem] = os.path.join(folder, name)
    return found


def resolve_config(config):
    """The file of ``config``: a path as given, or the shipped config with this file stem.

    Anything with a folder in it, or an existing file, is a path (``load_config`` reports a missing
    one); a bare name is looked up among the shipped configs, with or without its suffix.
    """
    config = os.fspath(config)
    if os.path.dirname(config) or os.path.isfile(config):
        return config
    stem = os.path.splitext(config)[0] if config.endswith(CONFIG_SUFFIXES) else config
    shipped = shipped_configs()
    if stem in shipped:
        return shipped[stem]
    suggestions = ([name for name in sorted(shipped) if name.startswith(stem)]
                   or difflib.get_close_matches(stem, shipped, n=3, cutoff=0.5))[:3]
    hint = f"; did you mean {' or '.join(repr(name) for name in suggestions)}?" if suggestions else ""
    raise ConfigError(f"{config}: no such file, and no shipped config has this name{hint} "
                      "(`paddleseg configs` lists them)")


def dataset_of(path):
    """The dataset a shipped config trains on: the folder it sits in under the config root."""
    return os.path.relpath(path, config_root()).split(os.sep)[0]


def targets():
    """{file stem: {"model": ..., "miou": ...}} from the table in configs/README.md."""
    rows, header = {}, None
    with open(os.path.join(config_root(), TARGETS_FILE)) as file:
        for line in file:
            if not line.startswith("|"):
                header = None
                continue
            cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
            if header is None:
                header = cells
            elif CONFIG_COLUMN in header and not all(set(cell) <= set("-:") for cell in cells):
                row = dict(zip(header, cells))
                stem = os.path.splitext(os.path.basename(row[CONFIG_COLUMN]))[0]
                rows[stem] = {"model": row.get(MODEL_COLUMN, ""), "miou": row.get(MIOU_COLUMN, "")}
    return rows
