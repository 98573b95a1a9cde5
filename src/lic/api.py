"""lic's front door: the functions the CLI, the Pillow plugin and Python code all go through.

    import lic
    data = lic.compress("photo.jpg", quality=4.5)    # .lic bytes (also a PIL image, a NumPy
    image = lic.decompress(data)                     # array, a tensor or image bytes); a PIL
    lic.info(data).width, lic.models()[0].name       # image back, with its ICC/EXIF/XMP

One path from any input to a file: the input becomes a PIL image (`lic.codec.as_image`), the
model is loaded once per (name, weights) and kept, and either the quality is used or the size,
bpp or PSNR target is searched (`lic.ratecontrol`); photos are coded upright with their
metadata (`lic.codec`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from lic.bitstream import Header, unpack
from lic.catalog import ModelInfo, models
from lic.codec import as_image, decode, encode, model_for
from lic.defaults import DEFAULT_MODEL, DEFAULT_QUALITY
from lic.errors import LicError
from lic.ratecontrol import Result, compress_to_bpp, compress_to_psnr, compress_to_size

__all__ = ["ModelInfo", "compress", "compress_result", "decompress", "info", "models"]


def compress(
    image: Any,
    *,
    model: str | None = None,
    quality: float | None = None,
    size: int | None = None,
    bpp: float | None = None,
    psnr: float | None = None,
    weights: str | Path | None = None,
    metadata: bool = True,
    refine: int = 0,
) -> bytes:
    """The .lic bytes of `image`.

    Args:
        image: a PIL image, a NumPy array (uint8 or uint16, H×W or H×W×C; float in [0, 1]), a
            torch tensor ([3, H, W] or [1, 3, H, W] in [0, 1]), a path, or encoded image bytes.
        model: a registered model name (default: the default codec, `DEFAULT_MODEL`).
        quality: the model's quality (default 4); or one target instead:
        size: the largest file of at most this many bytes;
        bpp: the largest file of at most this many bits per pixel;
        psnr: the smallest file whose decoded image reaches this PSNR (dB).
        weights: safetensors weights instead of the shipped ones.
        metadata: carry the ICC profile, EXIF and XMP (the orientation is applied either way).
        refine: steps of encoder-side latent refinement (`lic.refine`): smaller files at the
            same quality for far more encoding time (0: none).
    """
    return compress_result(
        image,
        model=model,
        quality=quality,
        size=size,
        bpp=bpp,
        psnr=psnr,
        weights=weights,
        metadata=metadata,
        refine=refine,
    ).data


def compress_result(
    image: Any,
    *,
    model: str | None = None,
    quality: float | None = None,
    size: int | None = None,
    bpp: float | None = None,
    psnr: float | None = None,
    weights: str | Path | None = None,
    metadata: bool = True,
    refine: int = 0,
) -> Result:
    """`compress`, with the quality it chose (what `lic compress` reports)."""
    targets = [t for t in (quality, size, bpp, psnr) if t is not None]
    if len(targets) > 1:
        raise LicError("give one of quality, size, bpp and psnr")
    image = as_image(image)
    quality = DEFAULT_QUALITY if quality is None else quality
    loaded, coding_quality = model_for(model or DEFAULT_MODEL, quality, _path(weights))
    if size is not None:
        return compress_to_size(loaded, image, int(size), metadata, refine)
    if bpp is not None:
        return compress_to_bpp(loaded, image, bpp, metadata, refine)
    if psnr is not None:
        return compress_to_psnr(loaded, image, psnr, metadata, refine)
    return Result(encode(loaded, image, coding_quality, metadata=metadata, refine=refine), quality)


def decompress(
    data: bytes | str | Path, *, weights: str | Path | None = None, array: bool = False
) -> Image.Image | np.ndarray:
    """The image a .lic file (its bytes or its path) holds: a PIL image with the photo's
    metadata in `info`, or with `array` its uint8 NumPy array (H×W×3, or H×W greyscale)."""
    image = decode(_bytes(data), weights=_path(weights))
    return np.asarray(image) if array else image


def info(data: bytes | str | Path) -> Header:
    """The header of a .lic file (its bytes or path): model, quality, size, streams, metadata."""
    header, _ = unpack(_bytes(data))
    return header


def _bytes(data: bytes | str | Path) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    if isinstance(data, str | Path):
        try:
            return Path(data).read_bytes()
        except OSError as error:
            raise LicError(f"cannot read {data}: {error.strerror}") from None
    raise LicError(f"cannot decompress a {type(data).__name__}: pass .lic bytes or a path")


def _path(weights: str | Path | None) -> str | None:
    return None if weights is None else str(weights)
