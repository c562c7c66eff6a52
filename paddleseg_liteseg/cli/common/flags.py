"""Library errors in the words of the command line, and flag values turned into library arguments."""
import contextlib
import os

from ...errors import UserError

EXPORT_OPTION_FLAGS = {"onnx": "--onnx", "int8": "--int8"}  # export's library options -> its flags


@contextlib.contextmanager
def in_flag_terms(paths=None, arguments=None):
    """Re-word a library ``UserError`` raised inside by its fields, not its text: an error whose
    ``path`` a flag gave (or lies inside it) is prefixed with that flag ("--image_path x: no such
    file"); one whose ``argument`` has a flag names the flag instead; an exported model without the
    file a backend needs (``MissingExportFile``) names the ``paddleseg export`` flags that write it.

    Args:
        paths (dict): {flag: the path it gave}.
        arguments (dict): {library argument name: flag}.
    """
    from ...deploy.exporting.exported_model import MissingExportFile

    try:
        yield
    except MissingExportFile as error:
        flags = " ".join(EXPORT_OPTION_FLAGS[option] for option in error.needs)
        error.args = (f"{error.model_dir} has no {error.key} model: export it with `paddleseg export {flags}`",)
        _prefix_flag(error, paths)
        raise
    except UserError as error:
        _prefix_flag(error, paths)
        flag = (arguments or {}).get(error.argument)
        if flag:
            error.args = (str(error).replace(error.argument, flag),)
        raise


def _prefix_flag(error, paths):
    """Put the flag that gave ``error.path`` (or a folder holding it) in front of the message."""
    if error.path is None:
        return
    for flag, value in (paths or {}).items():
        if value is not None and _within(os.fspath(error.path), os.fspath(value)):
            error.args = (f"{flag} {error}",)
            return


def _within(path, given):
    return path == given or path.startswith(given.rstrip(os.sep) + os.sep)


def custom_palette(custom_color):
    """``--custom_color R G B R G B ...`` as the (R, G, B) colours a Predictor takes (or None)."""
    if not custom_color:
        return None
    return [tuple(custom_color[start:start + 3]) for start in range(0, len(custom_color), 3)]
