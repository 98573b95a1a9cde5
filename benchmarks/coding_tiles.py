"""What coding y in tiles costs: file size and PSNR with smaller coding tiles than a Kodak image,
against y coded as one grid (format version 2's way), on Kodak photos with the default model.

A large photo's y is coded in tiles of `CODING_TILE` latents a side, each by the context on its
own (`lic.models.tiling`); forcing smaller tiles on a Kodak image shows what the tile edges
cost, with more edge per pixel than a large photo has.

    python benchmarks/coding_tiles.py [--images kodim01 kodim05 kodim23] [--tiles 32 16]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lic.defaults import DEFAULT_MODEL
from lic.evaluate.metrics import psnr
from lic.models.registry import load

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"


def coded(model: torch.nn.Module, image: np.ndarray, quality: float, tile: int | None):
    """(bytes of the streams, PSNR) of `image` with coding tiles of `tile` (None: one grid)."""
    x = torch.from_numpy(image.copy()).permute(2, 0, 1)[None]
    compressed = model.compress(x, quality, coding_tile=tile)
    out = model.decompress(compressed.streams, compressed.shapes, quality, coding_tile=tile)
    pixels = (out[0].permute(1, 2, 0) * 255).round().byte().numpy()
    return sum(map(len, compressed.streams)), psnr(image, pixels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", nargs="+", default=["kodim01", "kodim05", "kodim23"])
    parser.add_argument("--tiles", type=int, nargs="+", default=[32, 16])
    parser.add_argument("--qualities", type=float, nargs="+", default=[1.0, 4.0, 7.0])
    args = parser.parse_args()
    if not KODAK.exists():
        sys.exit(f"coding_tiles: the Kodak images are not at {KODAK} (../shared is absent)")
    torch.set_num_threads(1)
    model = load(DEFAULT_MODEL)
    print(f"{DEFAULT_MODEL}: size and PSNR with coding tiles of T latents against one grid")
    for name in args.images:
        image = np.asarray(Image.open(KODAK / f"{name}.png").convert("RGB"))
        for quality in args.qualities:
            size, db = coded(model, image, quality, None)
            line = f"{name} q{quality:g}: one grid {size} bytes {db:.3f} dB"
            for tile in args.tiles:
                tiled_size, tiled_db = coded(model, image, quality, tile)
                line += f" | T={tile}: {tiled_size / size - 1:+.2%} {tiled_db - db:+.4f} dB"
            print(line, flush=True)


if __name__ == "__main__":
    main()
