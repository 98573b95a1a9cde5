"""Compress to a target: a file size, a bit rate or a PSNR, by searching the quality.

For a variable-rate model (gain units, `lic.layers.GainUnit`) the coded size and the PSNR grow
with the continuous quality q ∈ [lowest, 8] (lowest is 0 or 1, `lic.models.base`). Bisection
on q, each step a real encode (and, for a PSNR target, a real decode), finds the best file that
meets the target: the largest q whose file is no larger than asked, or the smallest q whose
decoded PSNR reaches the target. A target beyond what the lowest or highest quality gives is
reported, never silently missed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from lic.codec import decode, displayed
from lic.codec import encode as encode_image
from lic.errors import LicError
from lic.evaluate.metrics import psnr
from lic.models.base import HIGHEST_QUALITY

_UNITS = {"": 1, "B": 1, "KB": 1000, "KIB": 1024, "MB": 1000**2, "MIB": 1024**2}


def parse_size(text: str) -> int:
    """'50KB' → 50000 bytes, '48KiB' → 49152, '1200' → 1200."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).upper() not in _UNITS:
        raise LicError(f"cannot read the size {text!r}: use e.g. 50KB, 48KiB or 1200 (bytes)")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


@dataclass
class Result:
    data: bytes
    quality: float


def _search(
    model: torch.nn.Module,
    image: Image.Image,
    meets: Callable[[bytes], bool],
    want_high: bool,
    steps: int,
    metadata: bool,
) -> tuple[Result, bool]:
    """Bisection over q for a monotone predicate `meets`, each q encoded (and tested) once.

    want_high: the predicate holds for low q (a size bound) and the highest such q is best;
    otherwise it holds for high q (a quality bound) and the lowest such q is best. Returns the
    best file and True, or the file at the most favourable edge and False when even it fails.
    """
    low, high = float(model.lowest_quality), float(HIGHEST_QUALITY)
    edge = low if want_high else high

    def encode(quality: float) -> bytes:
        return encode_image(model, image, quality, metadata=metadata)

    best = Result(encode(edge), edge)
    if not meets(best.data):
        return best, False
    other = high if want_high else low
    data = encode(other)
    if meets(data):
        return Result(data, other), True
    for _ in range(steps):
        middle = (low + high) / 2
        data = encode(middle)
        met = meets(data)
        if met:
            best = Result(data, middle)
        if met == want_high:
            low = middle
        else:
            high = middle
    return best, True


def compress_to_size(
    model: torch.nn.Module,
    image: Image.Image,
    max_bytes: int,
    steps: int = 12,
    metadata: bool = True,
) -> Result:
    """The largest-quality file of at most `max_bytes` bytes (metadata as in `lic.codec`)."""
    _require_variable_rate(model)

    def fits(data: bytes) -> bool:
        return len(data) <= max_bytes

    result, met = _search(model, image, fits, True, steps, metadata)
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
    steps: int = 12,
    metadata: bool = True,
) -> Result:
    """The largest-quality file of at most `bpp` bits per pixel (header included)."""
    max_bytes = int(bpp * image.width * image.height / 8)
    return compress_to_size(model, image, max_bytes, steps, metadata)


def compress_to_psnr(
    model: torch.nn.Module,
    image: Image.Image,
    target: float,
    steps: int = 12,
    metadata: bool = True,
) -> Result:
    """The smallest file whose decoded image reaches `target` dB PSNR (RGB, 8-bit)."""
    _require_variable_rate(model)
    image, _ = displayed(image)  # the reference as it displays, as the file decodes
    reference = np.array(image.convert("RGB"))

    def decoded_psnr(data: bytes) -> float:
        return psnr(reference, np.array(decode(data, model).convert("RGB")))

    def reaches(data: bytes) -> bool:
        return decoded_psnr(data) >= target

    result, met = _search(model, image, reaches, False, steps, metadata)
    if not met:
        raise LicError(
            f"cannot reach {target} dB: the best quality gives {decoded_psnr(result.data):.2f} dB"
        )
    return result


def _require_variable_rate(model: torch.nn.Module) -> None:
    if not model.variable_rate:
        raise LicError(
            f"{model.name} has a fixed rate: size, bpp and PSNR targets need a "
            "variable-rate model such as bmshj2018-hyperprior-vr"
        )
