"""Residual blocks of the analysis and synthesis transforms of Cheng et al. 2020 and ELIC.

Cheng, Sun, Takeuchi & Katto 2020, "Learned image compression with discretized Gaussian mixture
likelihoods and attention modules" (CVPR), sec. 3.2 and fig. 3, replace the 5×5 strided
convolutions of Minnen et al. 2018 by residual blocks: `ResidualBlock` at constant resolution,
`ResidualBlockWithStride` to go down and `ResidualBlockUpsample` (built on `subpixel_conv`) to go
up, GDN / IGDN kept once per resolution change. He et al. 2022, "ELIC: Efficient learned image
compression with unevenly grouped space-channel contextual adaptive coding" (CVPR), use
`ResidualBottleneck` blocks between the strided convolutions of their main transforms.

Receptive fields are given per axis as the set of input pixels an output pixel reads; the
"radius" is the largest distance from the input pixel at the output's own position (position
y·s for a stride s, ⌊y/r⌋ for an up-sampling by r). Every convolution is a `lic.layers.conv`
convolution, so the blocks follow a float64 input like the rest of the transforms.
"""

from __future__ import annotations

import torch
from torch import nn

from lic.layers.conv import Conv2d, conv
from lic.layers.gdn import GDN


def require_positive(owner: str, **values: int) -> None:
    """Raise ValueError naming `owner` unless every value is a positive int."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{owner} needs a positive integer {name}, got {value!r}")


def require_even(owner: str, name: str, value: int) -> None:
    """Raise ValueError unless `value` is even (the bottleneck width is value/2)."""
    if value % 2:
        raise ValueError(
            f"{owner} needs an even {name} (its bottleneck has {name}/2 channels), got {value}"
        )


def subpixel_conv(in_channels: int, out_channels: int, upsample: int = 2) -> nn.Sequential:
    """Sub-pixel convolution (Shi et al. 2016), the up-sampling of Cheng et al. 2020, fig. 3.

    A 3×3 convolution to out·r² channels followed by depth-to-space (`nn.PixelShuffle`):
    output[c, y, x] = conv[c·r² + (y mod r)·r + (x mod r), ⌊y/r⌋, ⌊x/r⌋]. An H×W input gives
    rH×rW for every H and W.

    Receptive field: output pixel y reads input pixels ⌊y/r⌋ − 1 … ⌊y/r⌋ + 1 (radius 1).

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output (the convolution makes out_channels·r²).
        upsample: the factor r.

    Returns:
        nn.Sequential(conv, PixelShuffle), the convolution at index 0.
    """
    require_positive(
        "subpixel_conv", in_channels=in_channels, out_channels=out_channels, upsample=upsample
    )
    return nn.Sequential(
        conv(in_channels, out_channels * upsample**2, kernel_size=3, stride=1),
        nn.PixelShuffle(upsample),
    )


class ResidualBottleneck(nn.Module):
    """ELIC's residual bottleneck block (He et al. 2022, sec. 3, figure of the main transforms).

    y = x + W₃ ReLU(W₂ ReLU(W₁ x)), W₁ a 1×1 convolution to C/2 channels, W₂ a 3×3 convolution
    C/2 → C/2 (zero padding 1), W₃ a 1×1 convolution back to C; no activation after the sum.
    The ResNet bottleneck (He et al. 2016) without normalization.

    Receptive field: radius 1 (a 3×3 window); the output has the input's shape.

    Args:
        channels: C, even.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        require_positive("ResidualBottleneck", channels=channels)
        require_even("ResidualBottleneck", "channels", channels)
        half = channels // 2
        self.conv1 = conv(channels, half, kernel_size=1, stride=1)
        self.conv2 = conv(half, half, kernel_size=3, stride=1)
        self.conv3 = conv(half, channels, kernel_size=1, stride=1)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.conv1(x))
        out = self.relu(self.conv2(out))
        return x + self.conv3(out)


class ResidualBlock(nn.Module):
    """Residual block at constant resolution (Cheng et al. 2020, sec. 3.2, fig. 3).

    y = LeakyReLU(W₂ LeakyReLU(W₁ x)) + S x, W₁ and W₂ 3×3 convolutions (zero padding 1), S
    the identity when in_channels == out_channels, else a 1×1 convolution. LeakyReLU has
    PyTorch's default slope 0.01 (the paper gives none).

    Receptive field: radius 2 (a 5×5 window); H×W stays H×W.

    Args:
        in_channels: channels of x.
        out_channels: channels of y.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        require_positive("ResidualBlock", in_channels=in_channels, out_channels=out_channels)
        self.conv1 = conv(in_channels, out_channels, kernel_size=3, stride=1)
        self.conv2 = conv(out_channels, out_channels, kernel_size=3, stride=1)
        self.activation = nn.LeakyReLU()
        self.skip: Conv2d | None = None
        if in_channels != out_channels:
            self.skip = conv(in_channels, out_channels, kernel_size=1, stride=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.activation(self.conv1(x))
        out = self.activation(self.conv2(out))
        return out + (x if self.skip is None else self.skip(x))


class ResidualBlockWithStride(nn.Module):
    """Down-sampling residual block (Cheng et al. 2020, sec. 3.2, fig. 3).

    y = GDN(W₂ LeakyReLU(W₁ x)) + S x, W₁ a 3×3 convolution with stride s (zero padding 1),
    W₂ a 3×3 convolution, S a 1×1 convolution with stride s (it reads x[s·i, s·j]; computed as
    a 1×1 convolution of x[::s, ::s], the same function: PyTorch 2.13's CPU backward of a
    strided 1×1 convolution of a channels_last input with 3 channels corrupts the heap, which
    crashed the first training step of cheng2020). An H×W input gives ⌈H/s⌉×⌈W/s⌉: exactly
    H/s×W/s when s divides H and W.

    Receptive field: output pixel i reads input pixels s·j − 1 … s·j + 1 for the first
    convolution's outputs j = i − 1 … i + 1 that exist. For s ≤ 3 that is the whole range
    s·i − s − 1 … s·i + s + 1, radius s + 1 (3 for the usual s = 2: a 7×7 window); for s > 3
    the 3×3 kernel leaves gaps (input pixels s·j + 2 … s·j + s − 2 are read by no output).

    Args:
        in_channels: channels of x.
        out_channels: channels of y.
        stride: s.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 2) -> None:
        super().__init__()
        require_positive(
            "ResidualBlockWithStride",
            in_channels=in_channels,
            out_channels=out_channels,
            stride=stride,
        )
        self.conv1 = conv(in_channels, out_channels, kernel_size=3, stride=stride)
        self.activation = nn.LeakyReLU()
        self.conv2 = conv(out_channels, out_channels, kernel_size=3, stride=1)
        self.gdn = GDN(out_channels)
        self.stride = stride
        self.skip = conv(in_channels, out_channels, kernel_size=1, stride=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.gdn(self.conv2(self.activation(self.conv1(x))))
        return out + self.skip(x[:, :, :: self.stride, :: self.stride])


class ResidualBlockUpsample(nn.Module):
    """Up-sampling residual block (Cheng et al. 2020, sec. 3.2, fig. 3).

    y = IGDN(W LeakyReLU(P₁ x)) + P₂ x, P₁ and P₂ sub-pixel convolutions by r (`subpixel_conv`),
    W a 3×3 convolution at the output resolution. An H×W input gives rH×rW.

    Receptive field: output pixel y reads input pixels ⌊(y−1)/r⌋ − 1 … ⌊(y+1)/r⌋ + 1, radius 2
    around ⌊y/r⌋ (for r = 2 a 4×4 window: ⌊y/2⌋ − 2 … ⌊y/2⌋ + 1 for even y, ⌊y/2⌋ − 1 …
    ⌊y/2⌋ + 2 for odd y).

    Args:
        in_channels: channels of x.
        out_channels: channels of y.
        upsample: r.
    """

    def __init__(self, in_channels: int, out_channels: int, upsample: int = 2) -> None:
        super().__init__()
        require_positive(
            "ResidualBlockUpsample",
            in_channels=in_channels,
            out_channels=out_channels,
            upsample=upsample,
        )
        self.subpel = subpixel_conv(in_channels, out_channels, upsample)
        self.activation = nn.LeakyReLU()
        self.conv = conv(out_channels, out_channels, kernel_size=3, stride=1)
        self.igdn = GDN(out_channels, inverse=True)
        self.skip = subpixel_conv(in_channels, out_channels, upsample)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.igdn(self.conv(self.activation(self.subpel(x))))
        return out + self.skip(x)
