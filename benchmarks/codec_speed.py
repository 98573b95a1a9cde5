"""Encode and decode seconds of lic's models on kodim01 (768×512) or the image given, beside
CompressAI's models of the same architecture when `compressai` is installed. Without Kodak
beside the checkout and without --image it says so and stops.

    python benchmarks/codec_speed.py [--image ../shared/data/kodak/kodim01.png]
"""

from __future__ import annotations

import sys
from pathlib import Path

from lic.cli import main

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak" / "kodim01.png"

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--image" not in args:
        if not KODAK.exists():
            sys.exit(f"codec_speed: {KODAK} not found (../shared is absent): pass --image PHOTO")
        args += ["--image", str(KODAK)]
    sys.exit(main(["bench", *args]))
