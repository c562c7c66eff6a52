"""Errors that describe bad input. Their messages name the file or config key at fault, so the
``paddleseg`` command prints them as one line instead of a traceback."""
import re


class UserError(Exception):
    """Bad input from the user: a file, a config key, a flag.

    Args:
        message (str): What is wrong, naming the file or key.
        path (str, optional): The file or folder at fault, as the caller gave it (or one inside
            it), so the command line can say which flag gave it.
        argument (str, optional): The library argument the message asks for, so the command line
            can name its flag instead.
    """

    def __init__(self, message, path=None, argument=None):
        super().__init__(message)
        self.path, self.argument = path, argument


class DatasetError(UserError, ValueError):
    """A dataset file that cannot be used; the message names it."""


class ConfigError(UserError, ValueError):
    """A config value that cannot work; the message names the key and the file."""


class SampleError(DatasetError):
    """A dataset sample that failed to load during training or evaluation; the message names its files.

    Paddle's DataLoader hands an error from a worker process or its reader thread on as the same type,
    with the whole traceback as the message; ``str`` keeps only the last line, this error's own message.
    """

    def __str__(self):
        message = super().__str__()
        match = _HANDED_ON.fullmatch(message)
        return match["message"].strip() if match else message


_HANDED_ON = re.compile(r"DataLoader (worker\(\d+\)|reader thread) caught SampleError with message:\n"
                        r".*\n[\w.]*SampleError: (?P<message>.*)", re.DOTALL)
