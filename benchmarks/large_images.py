"""Compress and decompress seconds and peak memory of the default model on large photos.

Each size is made from one photo (kodim01, or --image) resized with bicubic interpolation to
about 0.4, 3, 12 and 48 megapixels (3:2), written as PNG. Every measurement runs in a child
process of its own: its peak RSS (VmHWM, which includes torch and the model) and
the seconds of `lic.codec.encode` / `decode` alone (model loaded and one 256² image coded
before the clock starts, so that one-time set-up does not count against the small sizes; the
fastest of 5 runs below 1 MP, of 2 below 5 MP, one run above). The
last columns are each size's seconds per pixel over the first size's (Kodak's own size).

    python benchmarks/large_images.py [--image PHOTO] [--sizes 0.4 3 12 48] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak" / "kodim01.png"

CHILD = r"""
import json, re, sys, time
import torch
torch.set_num_threads(int(sys.argv[4]))
from lic.codec import decode, encode, model_for, open_image
from lic.defaults import DEFAULT_MODEL
model, quality = model_for(DEFAULT_MODEL, float(sys.argv[5]))
from PIL import Image
decode(encode(model, Image.new("RGB", (256, 256)), quality), model)  # warm-up, untimed
image_pixels = float(sys.argv[6])
repeats = 5 if image_pixels < 1e6 else 2 if image_pixels < 5e6 else 1
seconds = float("inf")
if sys.argv[1] == "compress":
    image = open_image(sys.argv[2])
    for _ in range(repeats):
        start = time.perf_counter()
        data = encode(model, image, quality)
        seconds = min(seconds, time.perf_counter() - start)
    open(sys.argv[3], "wb").write(data)
else:
    data = open(sys.argv[2], "rb").read()
    for _ in range(repeats):
        start = time.perf_counter()
        decode(data, model)
        seconds = min(seconds, time.perf_counter() - start)
rss = int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read())[1]) * 1024
print(json.dumps({"seconds": seconds, "peak_rss": rss, "bytes": len(data)}))
"""


def measure(
    action: str, source: Path, target: Path, threads: int, quality: float, pixels: int
) -> dict:
    """Run one compress or decompress in a child; its seconds, peak RSS and file size."""
    arguments = [action, str(source), str(target), str(threads), str(quality), str(pixels)]
    run = subprocess.run(
        [sys.executable, "-c", CHILD, *arguments],
        capture_output=True,
        text=True,
    )
    if run.returncode:
        return {"error": (run.stderr.strip().splitlines() or ["killed"])[-1]}
    return json.loads(run.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--image", type=Path, default=KODAK, help="the photo to resize")
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.4, 3, 12, 48], help="MP")
    parser.add_argument("--threads", type=int, default=2, help="torch threads in each child")
    parser.add_argument("--quality", type=float, default=4.0, help="quality of the default")
    args = parser.parse_args()
    if not args.image.exists():
        sys.exit(f"large_images: {args.image} not found (../shared is absent): pass --image")
    photo = Image.open(args.image).convert("RGB")
    print(f"{args.image.name} resized, default model, quality {args.quality:g}, ", end="")
    print(f"{args.threads} threads, peak RSS of a child process per measurement")
    print("size              MP  compress s  peak GiB  decompress s  peak GiB  s/px vs first")
    first = None
    with tempfile.TemporaryDirectory() as folder:
        for megapixels in args.sizes:
            width = round(math.sqrt(megapixels * 1e6 * 1.5))
            height = round(width / 1.5)
            png, lic = Path(folder) / "photo.png", Path(folder) / "photo.lic"
            photo.resize((width, height), Image.BICUBIC).save(png, compress_level=1)
            pixels = width * height
            encoded = measure("compress", png, lic, args.threads, args.quality, pixels)
            decoded = measure("decompress", lic, png, args.threads, args.quality, pixels)
            label = f"{width}×{height}"
            if "error" in encoded or "error" in decoded:
                print(f"{label:14s} {width * height / 1e6:5.1f}  {encoded} {decoded}")
                continue
            per_pixel = [r["seconds"] / (width * height) for r in (encoded, decoded)]
            first = first or per_pixel
            print(
                f"{label:14s} {width * height / 1e6:5.1f}  {encoded['seconds']:10.1f}"
                f"  {encoded['peak_rss'] / 2**30:8.2f}  {decoded['seconds']:12.1f}"
                f"  {decoded['peak_rss'] / 2**30:8.2f}"
                f"  {per_pixel[0] / first[0]:5.2f} / {per_pixel[1] / first[1]:4.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
