"""Strided convolutions of the transforms (Ballé et al. 2018, figure 4): 'same' padding, so an
H×W input maps to H/s×W/s and back exactly when H and W are multiples of the total stride."""

from __future__ import annotations

from torch import nn


def conv(in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 2) -> nn.Conv2d:
    """Down-sampling convolution."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2)


def deconv(
    in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 2
) -> nn.ConvTranspose2d:
    """Up-sampling (transposed) convolution, the exact shape inverse of `conv`."""
    return nn.ConvTranspose2d(
        in_channels,
        out_channels,
        kernel_size,
        stride,
        padding=kernel_size // 2,
        output_padding=stride - 1,
    )
