"""Which extra installs an optional runtime or converter, and the message that says so where it is missing."""
import importlib.util


def missing_package(module, extra):
    """Why ``module`` cannot be used (with the extra that installs it), or None when it is installed."""
    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed: pip install 'paddleseg-liteseg[{extra}]'"
    return None
