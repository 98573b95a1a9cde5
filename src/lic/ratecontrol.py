"""Compress to a target: a file size, a bit rate or a PSNR, by searching the quality.

For a variable-rate model (gain units, `lic.layers.GainUnit`) the coded size and the PSNR grow
with the continuous quality q ∈ [lowest, 8] (lowest is 0 or 1, `lic.models.base`), the log of
the size nearly linearly (about 0.37 per quality step on Kodak) and the PSNR about 1.4 dB per
step. The search interpolates on that scale, each step a real encode (and, for a PSNR target,
a real decode): a first encode where the model's Kodak record meets the target, a step along
the record's slope there (or the prior slopes above), then regula falsi (the Illinois variant)
on the bracket. It stops at a file that meets the target
within `SIZE_SLACK` of the size or `PSNR_SLACK` of the PSNR, or once the bracket is narrower
than `QUALITY_TOLERANCE`: a few encodes where bisection took 14. A target beyond what the
lowest or highest quality gives is reported, never silently missed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from lic.codec import decode, displayed
from lic.codec import encode as encode_image
from lic.defaults import DEFAULT_QUALITY
from lic.errors import LicError
from lic.evaluate.metrics import psnr
from lic.models.base import HIGHEST_QUALITY
from lic.models.registry import get_spec, weights_card, weights_digest

_UNITS = {"": 1, "B": 1, "KB": 1000, "KIB": 1024, "MB": 1000**2, "MIB": 1024**2}


def parse_size(text: str) -> int:
    """'50KB' → 50000 bytes, '48KiB' → 49152, '1200' → 1200."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).upper() not in _UNITS:
        raise LicError(f"cannot read the size {text!r}: use e.g. 50KB, 48KiB or 1200 (bytes)")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


@dataclass
class Result:
    """A file and the quality it was coded at (and, from a PSNR target, the PSNR reached)."""

    data: bytes
    quality: float
    psnr: float | None = None


#: A file within this fraction under its size target is the answer.
SIZE_SLACK = 0.01
#: A file within this many dB over its PSNR target is the answer.
PSNR_SLACK = 0.05
#: The search stops when the qualities that meet and miss the target are this close.
QUALITY_TOLERANCE = 1 / 64
#: Prior slopes of the searched value per quality step: log-size, and PSNR (dB).
LOG_SIZE_SLOPE, PSNR_SLOPE = 0.37, 1.4
#: Encodes at most (the bracket's width halves at least every other step).
MAX_ENCODES = 16


def _search(
    model: torch.nn.Module,
    image: Image.Image,
    value: Callable[[bytes], float],
    target: float,
    slope: float,
    slack: float,
    want_high: bool,
    first: float,
    metadata: bool,
    refine: int,
) -> tuple[Result, bool]:
    """The file of the q whose `value` (increasing in q) is nearest `target` on its side.

    want_high: the target bounds the value from above (a size) and the highest q meeting it is
    best; else from below (a PSNR) and the lowest such q. `value(data) − target` is searched
    for its root: within `slack` on the meeting side is close enough. Returns the best file and
    True, or the file at the most favourable edge and False when even it misses. Each file is
    coded with `metadata` and `refine` steps of refinement (`lic.codec.encode`).
    """
    low, high = float(model.lowest_quality), float(HIGHEST_QUALITY)
    tried: dict[float, tuple[bytes, float]] = {}

    def gap(q: float) -> float:
        """value − target at q (encoded once per q): ≤ 0 meets a size, ≥ 0 meets a PSNR."""
        if q not in tried:
            data = encode_image(model, image, q, metadata=metadata, refine=refine)
            tried[q] = (data, value(data) - target)
        return tried[q][1]

    def meets(q: float) -> bool:
        return gap(q) <= 0 if want_high else gap(q) >= 0

    def close(q: float) -> bool:
        return meets(q) and abs(gap(q)) <= slack

    def best() -> Result:
        good = [q for q in tried if meets(q)]
        q = max(good) if want_high else min(good)
        return Result(tried[q][0], q)

    # Two first points: the first guess, then a step along the prior slope.
    first = min(max(first, low), high)
    second = min(max(first - gap(first) / slope, low), high)
    if close(first):
        return best(), True
    gap(second)
    # Widen to a bracket: while every quality tried meets (or none does), step beyond the
    # extreme one in the direction that changes that, twice as far each time; an edge that
    # still does not change it ends the search.
    step = abs(second - first) or 1.0
    while all(meets(q) for q in tried) or not any(meets(q) for q in tried):
        upward = all(meets(q) for q in tried) == want_high
        edge = high if upward else low
        extreme = max(tried) if upward else min(tried)
        if extreme == edge:
            return (best(), True) if meets(edge) else (Result(tried[edge][0], edge), False)
        step *= 2
        gap(min(extreme + step, high) if upward else max(extreme - step, low))
    # Regula falsi on the narrowest bracket (Illinois: a side kept twice has its gap halved).
    good = max(q for q in tried if meets(q)) if want_high else min(q for q in tried if meets(q))
    bad_side = [q for q in tried if not meets(q) and (q > good) == want_high]
    if not bad_side:
        return best(), True
    bad = min(bad_side) if want_high else max(bad_side)
    f_good, f_bad, kept = gap(good), gap(bad), None
    while abs(bad - good) > QUALITY_TOLERANCE and not close(good) and len(tried) < MAX_ENCODES:
        q = good - f_good * (bad - good) / (f_bad - f_good)
        q = min(
            max(q, min(good, bad) + QUALITY_TOLERANCE / 4), max(good, bad) - QUALITY_TOLERANCE / 4
        )
        if meets(q):
            good, f_good = q, gap(q)
            f_bad, kept = (f_bad / 2, "bad") if kept == "bad" else (f_bad, "bad")
        else:
            bad, f_bad = q, gap(q)
            f_good, kept = (f_good / 2, "good") if kept == "good" else (f_good, "good")
    return best(), True


def first_guess(
    model: torch.nn.Module, key: str, value: float, prior: float
) -> tuple[float, float]:
    """The quality at which the model's Kodak record (the card beside its shipped weights,
    when these are they) reaches `value` of `key` ("bpp", on a log scale, or "psnr-rgb"),
    interpolated, and the record's slope there per quality step; without a record the default
    quality and the `prior` slope."""
    record = weights_card(get_spec(model.name).weights_path(None))
    if record is None or record["weights_digest"] != weights_digest(model).hex():
        return DEFAULT_QUALITY, prior
    results = record["kodak"]["results"]
    values = np.log(results[key]) if key == "bpp" else np.array(results[key])
    qualities = np.array([float(q) for q in results["quality"]])
    target = np.log(value) if key == "bpp" else value
    quality = float(np.interp(target, values, qualities))
    i = int(np.clip(np.searchsorted(qualities, quality), 1, len(qualities) - 1))
    slope = (values[i] - values[i - 1]) / (qualities[i] - qualities[i - 1])
    return quality, float(slope) if slope > 0 else prior


def compress_to_size(
    model: torch.nn.Module,
    image: Image.Image,
    max_bytes: int,
    metadata: bool = True,
    refine: int = 0,
) -> Result:
    """The largest-quality file of at most `max_bytes` bytes (metadata and refinement as in
    `lic.codec.encode`), within `SIZE_SLACK` of it or `QUALITY_TOLERANCE` of the quality that
    would exceed it."""
    _require_variable_rate(model)
    if max_bytes < 1:
        raise LicError(f"cannot fit {max_bytes} bytes")

    def log_size(data: bytes) -> float:
        return math.log(len(data))

    target = math.log(max_bytes)
    slack = -math.log(1 - SIZE_SLACK)
    bpp = 8 * max_bytes / (image.width * image.height)
    first, slope = first_guess(model, "bpp", bpp, LOG_SIZE_SLOPE)
    result, met = _search(
        model, image, log_size, target, slope, slack, True, first, metadata, refine
    )
    if not met:
        raise LicError(
            f"cannot fit {max_bytes} bytes: the smallest file, at the lowest quality "
            f"({result.quality:g}), is {len(result.data)} bytes"
        )
    return result


def compress_to_bpp(
    model: torch.nn.Module,
    image: Image.Image,
    bpp: float,
    metadata: bool = True,
    refine: int = 0,
) -> Result:
    """The largest-quality file of at most `bpp` bits per pixel (header included; metadata and
    refinement as in `compress_to_size`)."""
    max_bytes = int(bpp * image.width * image.height / 8)
    return compress_to_size(model, image, max_bytes, metadata, refine)


def compress_to_psnr(
    model: torch.nn.Module,
    image: Image.Image,
    target: float,
    metadata: bool = True,
    refine: int = 0,
) -> Result:
    """The smallest file whose decoded image reaches `target` dB PSNR (RGB, 8-bit), within
    `PSNR_SLACK` of it or `QUALITY_TOLERANCE` of the quality that would miss it."""
    _require_variable_rate(model)
    image, _ = displayed(image)  # the reference as it displays, as the file decodes
    reference = np.array(image.convert("RGB"))

    measured: dict[bytes, float] = {}

    def decoded_psnr(data: bytes) -> float:
        if data not in measured:
            measured[data] = psnr(reference, np.array(decode(data, model).convert("RGB")))
        return measured[data]

    first, slope = first_guess(model, "psnr-rgb", target, PSNR_SLOPE)
    result, met = _search(
        model, image, decoded_psnr, target, slope, PSNR_SLACK, False, first, metadata, refine
    )
    reached = decoded_psnr(result.data)
    if not met:
        raise LicError(f"cannot reach {target} dB: the best quality gives {reached:.2f} dB")
    return Result(result.data, result.quality, reached)


def _require_variable_rate(model: torch.nn.Module) -> None:
    if not model.variable_rate:
        raise LicError(
            f"{model.name} has a fixed rate: size, bpp and PSNR targets need a "
            "variable-rate model such as bmshj2018-hyperprior-vr"
        )
