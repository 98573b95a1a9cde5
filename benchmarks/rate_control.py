"""Encodes per rate-control target: `lic compress --bpp / --psnr` over Kodak photos.

For each image and target, counts the real encodes the search makes (`lic.ratecontrol`) and
prints their mean and maximum beside how close the file came to the target (bpp or dB below
it). Without Kodak beside the checkout it says so and stops.

    python benchmarks/rate_control.py [--images 24] [--model he2021-checkerboard-vr]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from PIL import Image

import lic.ratecontrol as ratecontrol
from lic.codec import model_for
from lic.defaults import DEFAULT_MODEL
from lic.errors import LicError

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--images", type=int, default=24, help="the first N Kodak photos")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="a variable-rate model")
    parser.add_argument("--bpp", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    parser.add_argument("--psnr", type=float, nargs="+", default=[30.0, 33.0, 36.0])
    args = parser.parse_args()
    files = sorted(KODAK.glob("kodim*.png"))[: args.images]
    if not files:
        sys.exit(f"rate_control: no Kodak images at {KODAK} (../shared is absent)")
    model, _ = model_for(args.model, 4.0)
    calls = []
    encode = ratecontrol.encode_image

    def counting(*a, **k):
        calls.append(1)
        return encode(*a, **k)

    ratecontrol.encode_image = counting
    print(f"{args.model}, {len(files)} Kodak images: encodes per target (mean, max), miss")
    for kind, targets in (("bpp", args.bpp), ("psnr", args.psnr)):
        for target in targets:
            counts, misses, unreachable = [], [], 0
            for path in files:
                image = Image.open(path).convert("RGB")
                calls.clear()
                try:
                    if kind == "bpp":
                        result = ratecontrol.compress_to_bpp(model, image, target)
                        pixels = image.width * image.height
                        misses.append(target - 8 * len(result.data) / pixels)
                    else:
                        result = ratecontrol.compress_to_psnr(model, image, target)
                        misses.append(result.psnr - target)
                except LicError:
                    unreachable += 1
                counts.append(len(calls))
            unit = "bpp under" if kind == "bpp" else "dB over"
            print(
                f"--{kind} {target:<5g} encodes {statistics.mean(counts):.2f} (max {max(counts)})"
                f"  {unit} the target: mean {statistics.mean(misses):.4f}, max {max(misses):.4f}"
                + (f"  ({unreachable} images cannot reach it)" if unreachable else ""),
                flush=True,
            )


if __name__ == "__main__":
    main()
