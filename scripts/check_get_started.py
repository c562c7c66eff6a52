"""Run the get-started page's commands as written: the bash block after the marker comment in
docs/get-started.md, in a fresh temporary folder, with this Python's ``paddleseg`` first on PATH.

CI runs it (``.ci/run``) so that the page's commands keep working. Exit status: the block's.
"""
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "docs" / "get-started.md"
MARKER = "<!-- get-started: scripts/check_get_started.py runs the bash block below as written -->"


def checked_block(text):
    """The bash block right after ``MARKER`` in ``text``."""
    if text.count(MARKER) != 1:
        raise SystemExit(f"{PAGE}: expected the marker once: {MARKER}")
    match = re.match(r"\s*```bash\n(.*?)\n```", text.split(MARKER, 1)[1], re.DOTALL)
    if not match:
        raise SystemExit(f"{PAGE}: no ```bash block right after the marker")
    return match.group(1)


def main():
    block = checked_block(PAGE.read_text())
    environment = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    with tempfile.TemporaryDirectory(prefix="get_started_") as folder:
        print(f"Running the commands of {PAGE.name} in {folder}:\n{block}\n", flush=True)
        result = subprocess.run(["bash", "-euo", "pipefail", "-x", "-c", block], cwd=folder, env=environment)
    if result.returncode:
        print(f"{PAGE.name}: its commands failed (exit status {result.returncode}); the failing one is the "
              "last '+' line above", file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
