"""Masked convolutions for context models: the kernel sees only already-decoded latents.

- "raster" (mask type A of van den Oord et al. 2016, used by Minnen et al. 2018 sec. 3): the
  rows above the centre, and the positions left of it on its row; never the centre itself.
- "checkerboard" (He et al. 2021, sec. 3.2): the positions at odd Manhattan distance from the
  centre, i.e. the other phase of the checkerboard; the centre's own phase is never seen.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lic.layers.conv import Conv2d, widened


def context_mask(kernel_size: int, kind: str) -> torch.Tensor:
    """The 0/1 mask [k, k] of a `kind` context ("raster" or "checkerboard")."""
    k = kernel_size
    if kind == "raster":
        mask = torch.zeros(k, k)
        mask[: k // 2] = 1
        mask[k // 2, : k // 2] = 1
        return mask
    if kind == "checkerboard":
        i, j = torch.meshgrid(torch.arange(k), torch.arange(k), indexing="ij")
        return ((i + j) % 2 == 1).float()
    raise ValueError(f"unknown context kind {kind!r}")


class MaskedConv2d(Conv2d):
    """A stride-1 'same' convolution whose kernel is multiplied by a context mask."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int = 5, kind: str = "raster"
    ):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.register_buffer("mask", context_mask(kernel_size, kind), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = widened(self.weight, x)
        return F.conv2d(
            x, weight * self.mask.to(weight.dtype), widened(self.bias, x), padding=self.padding
        )

    @property
    def taps(self) -> torch.Tensor:
        """Flat indices of the kernel positions the mask lets through."""
        return self.mask.flatten().nonzero().squeeze(1)

    def tap_matrix(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """(W [out, in·T], b): the convolution at one position as a matrix on its T taps."""
        return self.weight.flatten(2)[:, :, self.taps].flatten(1).to(dtype), self.bias.to(dtype)

    def at(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """The output [B, out, P] at flat `positions` of x's H·W grid alone, through the taps
        only: what coding needs, in x's precision, for a fraction of the dense cost."""
        k, width = self.kernel_size[0], x.shape[3]
        padded = F.pad(x, (k // 2,) * 4)
        rows = positions // width + self.taps[:, None] // k  # [T, P]: each tap of each output
        cols = positions % width + self.taps[:, None] % k
        columns = padded[:, :, rows, cols]  # [B, in, T, P]
        weight, bias = self.tap_matrix(x.dtype)
        return torch.matmul(weight, columns.flatten(1, 2)) + bias[:, None]


def checkerboard(height: int, width: int, anchor: bool) -> torch.Tensor:
    """[1, 1, H, W] boolean mask of the anchors ((h + w) even) or of the non-anchors."""
    h, w = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return (((h + w) % 2 == 0) == anchor)[None, None]
