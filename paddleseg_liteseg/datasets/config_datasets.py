"""A config's datasets as PaddleSeg's SegBuilder builds them, told apart from a bug when they fail.

PaddleSeg's datasets raise FileNotFoundError or ValueError for files that are absent or malformed,
and its builder re-raises any error of a component as a RuntimeError; a caller that can do without
the dataset (the classes of an exported model, calibration images) gets None and the reason for
those, while any other error (a bug in a dataset's ``__init__``) keeps its traceback.
"""
DATA_ERRORS = (FileNotFoundError, NotADirectoryError, ValueError)


def config_dataset(builder, section):
    """(dataset, None) of the config's ``section`` ("train_dataset", "val_dataset"), or (None, why)
    where its files are absent or malformed."""
    try:
        return getattr(builder, section), None
    except Exception as error:
        cause = data_error_in(error)
        if cause is None:
            raise
        return None, str(cause).strip().splitlines()[-1]


def data_error_in(error):
    """The absent-or-malformed-data error behind ``error`` (itself, or what PaddleSeg's builder
    wrapped), or None."""
    while error is not None:
        if isinstance(error, DATA_ERRORS):
            return error
        error = error.__cause__ or error.__context__
    return None
