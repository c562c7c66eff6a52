"""Library errors in the words of the command line, and flag values turned into library arguments."""
import contextlib
import re

from ..errors import UserError

# The export arguments that library messages about a missing model file name, as export's flags.
EXPORT_FLAGS = {"onnx=True, int8=True": "`paddleseg export --onnx --int8`", "onnx=True": "`paddleseg export --onnx`"}


@contextlib.contextmanager
def in_flag_terms(values=None, names=None):
    """Re-word a library ``UserError`` raised inside: a message that starts with a value a flag gave
    ("x: no such file", "x/deploy.yaml ...") names the flag ("--image_path x: no such file"), and a
    library argument named in it becomes its flag.

    Args:
        values (dict): {flag: the value it gave}.
        names (dict): {library argument name: flag}.
    """
    try:
        yield
    except UserError as error:
        message = str(error)
        for flag, value in (values or {}).items():
            if value is not None and re.match(re.escape(str(value)) + r"[:/ ]", message):
                message = f"{flag} {message}"
                break
        for name, flag in (names or {}).items():
            message = re.sub(rf"(?<![\w-]){re.escape(name)}\b", flag, message)
        error.args = (message,)
        raise


def custom_palette(custom_color):
    """``--custom_color R G B R G B ...`` as the (R, G, B) colours a Predictor takes (or None)."""
    if not custom_color:
        return None
    return [tuple(custom_color[start:start + 3]) for start in range(0, len(custom_color), 3)]
