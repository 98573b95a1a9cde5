"""How a model's bits split over its latents: the bytes of each stream of real .lic files, as a
share of the file, averaged over Kodak at each quality (the header and container's own bytes
are the rest).

    python benchmarks/latent_split.py MODEL [--weights W] [--qualities 0 2 4 6 8] [--images N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lic.bitstream.container import unpack
from lic.codec import encode, model_for, open_image

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"
#: The latents each model's streams hold, in stream order, by their number of streams.
NAMES = {1: ["y"], 2: ["y", "z"], 3: ["y (z3)", "z2", "z1"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--weights")
    parser.add_argument("--qualities", type=float, nargs="+", default=[0, 2, 4, 6, 8])
    parser.add_argument("--images", type=int, default=24, help="the first N Kodak images")
    args = parser.parse_args()
    files = sorted(KODAK.glob("*.png"))[: args.images]
    if not files:
        raise SystemExit(f"no Kodak images in {KODAK}")
    images = [open_image(f) for f in files]
    print(f"{args.model}, {len(files)} Kodak images: bpp of each stream, and its share of the file")
    for quality in args.qualities:
        model, model_quality = model_for(args.model, quality, args.weights)
        totals, files_bytes, pixels = None, 0, 0
        for image in images:
            data = encode(model, image, model_quality)
            header, streams = unpack(data)
            lengths = [len(s) for s in streams]
            totals = lengths if totals is None else [a + b for a, b in zip(totals, lengths)]
            files_bytes += len(data)
            pixels += image.width * image.height
        names = NAMES.get(len(totals), [f"stream {i}" for i in range(len(totals))])
        parts = ", ".join(
            f"{n} {8 * t / pixels:.4f} bpp ({100 * t / files_bytes:.1f}%)"
            for n, t in zip(names, totals)
        )
        print(f"q{quality:g}: file {8 * files_bytes / pixels:.4f} bpp; {parts}")


if __name__ == "__main__":
    main()
