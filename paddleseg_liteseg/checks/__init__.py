"""Checks that fail fast and clearly: a config before anything is built, a dataset's files before
training, and each sample as training reads it (see the modules for what each one catches)."""
from .config_checks import DATASET_SECTIONS, check_config  # noqa: F401
from .config_loading import load_config  # noqa: F401
from .data_checks import DataReport, check_dataset  # noqa: F401
from .reporting_dataset import wrap_dataset  # noqa: F401
