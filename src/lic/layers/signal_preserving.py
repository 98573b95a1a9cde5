"""Signal-preserving hyper transforms (Hu, Yang & Liu 2020, sec. 3.3).

A hyper-analysis built like Ballé et al. 2018's (large kernels, stride, ReLU from the start)
loses part of its input before it can transform it: the stride discards samples and a ReLU
right after a large kernel zeroes half the responses. Hu et al. instead down-sample without
discarding anything, by space-to-depth (each 2×2 block of positions becomes 4× the channels,
a bijection), and apply the nonlinearities only in 1×1 convolutions after it:
  analysis:  conv3×3 (mid), space-to-depth ×2 (4·mid), conv1×1 (mid), ReLU, conv1×1 (mid),
             ReLU, conv1×1 (out)
  synthesis: conv1×1 (mid), ReLU, conv1×1 (mid), ReLU, conv1×1 (4·mid), depth-to-space ×2
             (mid), conv3×3 (out)
Each halves (or doubles) the resolution. Space-to-depth and depth-to-space are torch's
`PixelUnshuffle` and `PixelShuffle`, exact inverses of each other.
"""

from __future__ import annotations

from torch import nn

from lic.layers.conv import conv


def signal_preserving_analysis(in_channels: int, mid: int, out_channels: int) -> nn.Sequential:
    """Hyper-analysis of Hu et al. 2020 (sec. 3.3): ↓2 by space-to-depth, 1×1 layers after."""
    return nn.Sequential(
        conv(in_channels, mid, 3, 1),
        nn.PixelUnshuffle(2),
        conv(4 * mid, mid, 1, 1),
        nn.ReLU(inplace=True),
        conv(mid, mid, 1, 1),
        nn.ReLU(inplace=True),
        conv(mid, out_channels, 1, 1),
    )


def signal_preserving_synthesis(in_channels: int, mid: int, out_channels: int) -> nn.Sequential:
    """Hyper-synthesis of Hu et al. 2020 (sec. 3.3), the mirror: 1×1 layers, ↑2 by
    depth-to-space, a 3×3 convolution last."""
    return nn.Sequential(
        conv(in_channels, mid, 1, 1),
        nn.ReLU(inplace=True),
        conv(mid, mid, 1, 1),
        nn.ReLU(inplace=True),
        conv(mid, 4 * mid, 1, 1),
        nn.PixelShuffle(2),
        conv(mid, out_channels, 3, 1),
    )
