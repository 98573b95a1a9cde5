"""One row of a result file: what a codec did to one image, measured on real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from lic.evaluate.metrics import ms_ssim, ms_ssim_db, psnr


def reference(path: Path) -> np.ndarray:
    """The test image as a uint8 RGB array."""
    with Image.open(path) as image:
        return np.array(image.convert("RGB"))


def measure(
    image: str,
    ref: np.ndarray,
    decoded: np.ndarray,
    file_bytes: int,
    encode_s: float,
    decode_s: float,
) -> dict:
    """bpp = file bytes × 8 / pixels, PSNR and MS-SSIM on RGB, and the times."""
    if decoded.shape != ref.shape:
        raise ValueError(f"{image}: decoded shape {decoded.shape} differs from {ref.shape}")
    value = ms_ssim(ref, decoded)
    return {
        "image": image,
        "bpp": 8 * file_bytes / (ref.shape[0] * ref.shape[1]),
        "psnr-rgb": psnr(ref, decoded),
        "ms-ssim-rgb": value,
        "ms-ssim-db": ms_ssim_db(value),
        "encoding_time": encode_s,
        "decoding_time": decode_s,
    }
