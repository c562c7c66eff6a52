"""File lists as PaddleSeg's ``Dataset`` reads them: "image_path label_path" lines, relative to the
dataset root and with '/' separators, so a prepared dataset can be moved or shared across systems."""
import os


def list_line(image_path, label_path, root):
    """The file-list line pairing ``image_path`` with ``label_path`` (no newline)."""
    return f"{_relative(image_path, root)} {_relative(label_path, root)}"


def _relative(path, root):
    return os.path.relpath(path, root).replace(os.sep, "/")
