"""Encode and decode seconds of lic's models on a 768×512 image (Kodak when present), beside
CompressAI's models of the same architecture when `compressai` is installed.

    python benchmarks/codec_speed.py [--image ../shared/data/kodak/kodim01.png]
"""

from __future__ import annotations

import sys
from pathlib import Path

from lic.cli import main

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak" / "kodim01.png"

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--image" not in args and KODAK.exists():
        args += ["--image", str(KODAK)]
    sys.exit(main(["bench", *args]))
