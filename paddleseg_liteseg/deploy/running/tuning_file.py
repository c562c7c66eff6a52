"""``tuning.json``: what ``paddleseg tune`` measured in a model directory (``TuningEntry``s), keyed by
what the result depends on (device, CPU model and flags, threads, input shape), and which entry
applies here."""
import json
import os

from ...errors import UserError
from ...files.atomic import atomic_path
from .cpu_features import read_cpu_info
from ..exporting.model_files import TUNING_FILE
from .runtimes import default_threads
from .tuning_entry import TuningEntry


def tuning_key(device="cpu", threads=None, input_shape=None, cpu=None):
    """What a tuning result depends on: device, CPU model and flags, threads, input shape (N C H W)."""
    cpu = cpu or read_cpu_info()
    return {"device": device, "cpu": cpu.model, "flags": sorted(cpu.flags),
            "threads": threads or default_threads(),
            "input_shape": [int(size) for size in input_shape] if input_shape else None}


def read_entries(model_dir):
    """The ``TuningEntry``s of ``model_dir/tuning.json`` (none where there is no file)."""
    path = os.path.join(model_dir, TUNING_FILE)
    if not os.path.isfile(path):
        return []
    try:
        with open(path) as file:
            return [TuningEntry.from_dict(entry) for entry in json.load(file)["entries"]]
    except (ValueError, KeyError, TypeError) as error:
        raise UserError(f"{path} is not a tuning result ({error}); delete it or re-run `paddleseg tune`",
                        path=path) from None


def write_entry(model_dir, entry):
    """Add ``entry`` (a TuningEntry) to ``model_dir/tuning.json``, replacing the one of the same key
    (atomically)."""
    entries = [old.to_dict() for old in read_entries(model_dir) if old.key != entry.key] + [entry.to_dict()]
    with atomic_path(os.path.join(model_dir, TUNING_FILE)) as partial, open(partial, "w") as file:
        json.dump({"entries": entries}, file, indent=2)


def tuned_choice(model_dir, key):
    """(the RuntimeId chosen or None, why): the entry of ``tuning.json`` for ``key``."""
    entries = read_entries(model_dir)
    if not entries:
        return None, f"no {TUNING_FILE} (run `paddleseg tune --model_dir {model_dir}` to measure)"
    for entry in entries:
        if entry.key == key:
            return entry.choice, f"tuned on this machine ({TUNING_FILE}, {entry.date})"
    return None, f"{TUNING_FILE} is stale here: {_difference(entries[-1].key, key)}; re-run `paddleseg tune`"


def _difference(tuned, current):
    """What differs between two tuning keys, in words."""
    words = {"device": "device", "cpu": "CPU", "flags": "CPU flags", "threads": "threads",
             "input_shape": "input shape"}
    differences = []
    for name, word in words.items():
        if tuned.get(name) != current.get(name):
            if name == "flags":
                changed = sorted(set(tuned.get(name) or []) ^ set(current.get(name) or []))
                differences.append(f"other CPU flags ({' '.join(changed)})")
            else:
                differences.append(f"{word} {tuned.get(name)} there, {current.get(name)} here")
    return ", ".join(differences)
