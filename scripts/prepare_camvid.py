#!/usr/bin/env python
"""Same as `paddleseg prepare-camvid`; see --help."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from paddleseg_liteseg.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["prepare-camvid", *sys.argv[1:]]))
