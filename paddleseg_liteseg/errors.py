"""Errors that describe bad input. Their messages name the file or config key at fault, so the
``paddleseg`` command prints them as one line instead of a traceback."""


class UserError(Exception):
    """Bad input from the user: a file, a config key, a flag."""


class DatasetError(UserError, ValueError):
    """A dataset file that cannot be used; the message names it."""


class ConfigError(UserError, ValueError):
    """A config value that cannot work; the message names the key and the file."""
