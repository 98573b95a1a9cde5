"""Strided convolutions of the transforms (Ballé et al. 2018, figure 4): 'same' padding, so an
H×W input maps to H/s×W/s and back exactly when H and W are multiples of the total stride.

Every convolution here computes in float64 when its input is float64, the weights widened on
the fly: coding runs the entropy parameters' path that way (see `lic.models.base`), training and
the transforms stay in float32 (or bf16 under autocast).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def widened(parameter: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor | None:
    """`parameter` as float64 when `x` is float64 (coding), else unchanged."""
    if parameter is None or x.dtype != torch.float64:
        return parameter
    return parameter.double()


class Conv2d(nn.Conv2d):
    """nn.Conv2d that follows a float64 input (same parameters and state-dict keys)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, widened(self.weight, x), widened(self.bias, x))


class ConvTranspose2d(nn.ConvTranspose2d):
    """nn.ConvTranspose2d that follows a float64 input (fixed output padding)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(
            x,
            widened(self.weight, x),
            widened(self.bias, x),
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.dilation,
        )


def conv(in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 2) -> Conv2d:
    """Down-sampling convolution (stride 1 and kernel 1 give the 1×1 layers)."""
    return Conv2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2)


def deconv(
    in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 2
) -> ConvTranspose2d:
    """Up-sampling (transposed) convolution, the exact shape inverse of `conv`."""
    return ConvTranspose2d(
        in_channels,
        out_channels,
        kernel_size,
        stride,
        padding=kernel_size // 2,
        output_padding=stride - 1,
    )
