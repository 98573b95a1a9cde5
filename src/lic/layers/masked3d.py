"""Masked 3D convolutions: a context over a volume of symbols in raster order.

Mentzer et al. 2018, "Conditional probability models for deep image compression" (CVPR), sec. 3.2:
the context model runs 3D convolutions over the quantized latent volume ẑ [C, H, W], taken in
raster order over (channel, row, column), with kernels masked so that the output at (c, i, j)
reads only positions before (c, i, j) in that order (the masks of van den Oord et al. 2016, one
dimension up). Of a k×k×k kernel (offsets (dc, di, dj) ∈ [−r, r]³, r = k // 2) a mask keeps
- the earlier channels wholly: dc < 0 (every row and column of the window: all of channel c − 1
  precedes (c, i, j), the positions below and right of it too);
- in channel c, the rows above: dc = 0, di < 0;
- in row i, the columns to the left: dc = 0, di = 0, dj < 0;
- the centre (0, 0, 0) too for mask "B", not for mask "A".
The first layer of a stack has mask A, the later ones B (the centre of a hidden layer carries
only what the A layer read before it), so every output depends on strictly earlier inputs.

Every kept offset other than the centre lowers the wavefront time t = (r + 1)²·c + (r + 1)·i + j
(dc < 0 by at least (r + 1)² − (r + 1)·r − r = 1, dc = 0 and di < 0 by at least r + 1 − r = 1,
dj < 0 by |dj|). So all positions of equal t can be computed together, one layer after another,
from what earlier times produced: the stack decodes in (r + 1)²(C − 1) + (r + 1)(H − 1) + W
steps instead of C·H·W (`wavefront_times`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lic.layers.conv import widened


def causal_mask_3d(kernel_size: int, kind: str) -> torch.Tensor:
    """The 0/1 mask [k, k, k] over (channel, row, column) offsets of a `kind` ("A" or "B")
    context (module docstring)."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"the kernel size must be odd and positive, got {kernel_size}")
    if kind not in ("A", "B"):
        raise ValueError(f"the mask kind is 'A' or 'B', got {kind!r}")
    r = kernel_size // 2
    mask = torch.zeros(kernel_size, kernel_size, kernel_size)
    mask[:r] = 1
    mask[r, :r] = 1
    mask[r, r, :r] = 1
    if kind == "B":
        mask[r, r, r] = 1
    return mask


def wavefront_times(channels: int, height: int, width: int, kernel_size: int) -> np.ndarray:
    """The wavefront time t = (r + 1)²·c + (r + 1)·i + j of every position of a
    channels × height × width volume (int64, raster order), r = kernel_size // 2: positions of
    equal t depend on none of each other through a stack of masked layers (module docstring)."""
    step = kernel_size // 2 + 1
    c, i, j = np.meshgrid(np.arange(channels), np.arange(height), np.arange(width), indexing="ij")
    return (step * step * c + step * i + j).ravel().astype(np.int64)


class MaskedConv3d(nn.Conv3d):
    """A stride-1 'same' 3D convolution over [B, in, C, H, W] whose kernel is multiplied by a
    causal mask of `kind` (`causal_mask_3d`); follows a float64 input (coding precision)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int = 3, kind: str = "B"
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.kind = kind
        self.register_buffer("mask", causal_mask_3d(kernel_size, kind), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = widened(self.weight, x)
        return F.conv3d(
            x, weight * self.mask.to(weight.dtype), widened(self.bias, x), padding=self.padding
        )

    def tap_offsets(self, strides: tuple[int, int, int]) -> torch.Tensor:
        """Flat offsets [T] of the kept kernel positions in a volume laid out with `strides`
        (of channel, row, column; padded by r on every side so no tap leaves it)."""
        r = self.kernel_size[0] // 2
        dc, di, dj = (self.mask > 0).nonzero().unbind(1)
        return (dc - r) * strides[0] + (di - r) * strides[1] + (dj - r) * strides[2]

    def tap_matrix(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """(W [out, in·T], b [out]): the convolution at one position as a matrix on its T kept
        taps, input-channel major (taps in `tap_offsets` order)."""
        taps = self.mask.flatten().nonzero().squeeze(1)
        weight = self.weight.flatten(2)[:, :, taps].flatten(1)
        return weight.to(dtype), self.bias.to(dtype)
