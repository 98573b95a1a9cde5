"""`lic bench`: encode and decode seconds of whole models on a 768×512 image.

Times `lic.codec.encode` / `decode` (transform, entropy coding and container), median of
`repeats` runs with torch threads = cores. When CompressAI is importable, its models of the
same architecture are timed in the same run on the same image (untrained weights: speed does
not depend on them), and the ratio printed.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import time

import numpy as np
import torch
from PIL import Image

from lic.codec import decode, encode, pad
from lic.errors import LicError
from lic.models.registry import get_spec, load

#: lic model name → CompressAI zoo constructor name of the same architecture.
COMPRESSAI_TWINS = {
    "bmshj2018-factorized": "bmshj2018_factorized",
    "bmshj2018-hyperprior": "bmshj2018_hyperprior",
    "bmshj2018-hyperprior-vr": "bmshj2018_hyperprior",
    "mbt2018-mean": "mbt2018_mean",
    "mbt2018": "mbt2018",
}


def _median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def nearest_quality(name: str, quality: float) -> float:
    """The quality `lic bench` codes with model `name`: `quality` for a variable-rate model,
    otherwise the nearest of its fixed qualities (the lower on a tie; mentzer2018 has 1–3)."""
    spec = get_spec(name)
    if spec.variable_rate:
        return quality
    return min(sorted(spec.configs), key=lambda q: abs(q - quality))


def bench_lic(name: str, image: Image.Image, quality: float, repeats: int) -> tuple[float, float]:
    """(encode s, decode s) of model `name` at `quality` (one it has: `nearest_quality`),
    shipped weights where there are."""
    spec = get_spec(name)
    try:
        model = load(name, None if spec.variable_rate else int(quality))
    except LicError:  # no shipped weights: the speed of the architecture, untrained
        model = spec.build(None if spec.variable_rate else int(quality)).eval()
    q = quality if spec.variable_rate else None
    data = encode(model, image, q)
    return (
        _median_seconds(lambda: encode(model, image, q), repeats),
        _median_seconds(lambda: decode(data, model), repeats),
    )


def bench_compressai(
    name: str, image: Image.Image, quality: int, repeats: int
) -> tuple[float, float] | None:
    """(encode s, decode s) of CompressAI's twin of `name`, or None when not installed."""
    twin = COMPRESSAI_TWINS.get(name)
    if twin is None or importlib.util.find_spec("compressai") is None:
        return None
    from compressai import zoo

    model = getattr(zoo, twin)(quality=int(quality), pretrained=False).eval()
    model.update(force=True)
    x = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)[None].float() / 255
    x = pad(x, 64)
    with torch.no_grad():
        out = model.compress(x)
        encode_s = _median_seconds(lambda: model.compress(x), repeats)
        decode_s = _median_seconds(lambda: model.decompress(out["strings"], out["shape"]), repeats)
    return encode_s, decode_s


def run_bench(
    names: list[str], image: Image.Image, quality: float = 4, repeats: int = 5
) -> list[dict]:
    torch.set_num_threads(os.cpu_count() or 1)
    rows = []
    for name in names:
        own = nearest_quality(name, quality)
        encode_s, decode_s = bench_lic(name, image, own, repeats)
        row = {"model": name, "quality": own, "encode_s": encode_s, "decode_s": decode_s}
        twin = bench_compressai(name, image, int(own), repeats)
        if twin is not None:
            row.update(
                compressai_encode_s=twin[0],
                compressai_decode_s=twin[1],
                encode_ratio=encode_s / twin[0],
                decode_ratio=decode_s / twin[1],
            )
        rows.append(row)
    return rows
