"""Quality metrics on 8-bit RGB images, as the field reports them on Kodak.

PSNR = 10·log10(255² / MSE) over all RGB samples of one image; MS-SSIM is Wang et al. 2003 with
the standard five scales and weights (pytorch-msssim), on RGB in [0, 255]; in dB it is
−10·log10(1 − MS-SSIM). Both are averaged per image over a test set.
"""

from __future__ import annotations

import math

import numpy as np
import torch

#: MS-SSIM's five scales and 11-pixel window need images larger than this on each side.
MS_SSIM_MIN_SIDE = 161


def psnr(reference: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR in dB of two uint8 arrays of the same shape (inf when identical)."""
    mse = np.mean((reference.astype(np.float64) - decoded.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def ms_ssim(reference: np.ndarray, decoded: np.ndarray) -> float:
    """MS-SSIM of two uint8 RGB (H×W×3) or greyscale arrays; NaN when the image is too small."""
    if min(reference.shape[:2]) < MS_SSIM_MIN_SIDE:
        return math.nan

    def tensor(a: np.ndarray) -> torch.Tensor:
        a = a if a.ndim == 3 else a[:, :, None]
        return torch.from_numpy(a.astype(np.float32)).permute(2, 0, 1)[None]

    from pytorch_msssim import ms_ssim as _ms_ssim  # lic[eval]: compressing does not need it

    return float(_ms_ssim(tensor(reference), tensor(decoded), data_range=255.0))


def ms_ssim_db(value: float) -> float:
    """MS-SSIM in dB: −10·log10(1 − MS-SSIM)."""
    return math.inf if value >= 1 else -10 * math.log10(1 - value)
