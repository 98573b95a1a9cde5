"""The signal-preserving hyper transforms of Hu et al. 2020 (sec. 3.3)."""

from __future__ import annotations

import torch
from torch import nn

from lic.layers import signal_preserving_analysis, signal_preserving_synthesis


def test_space_to_depth_and_depth_to_space_are_exact_inverses():
    x = torch.randn(2, 5, 6, 10)
    down = nn.PixelUnshuffle(2)(x)
    assert down.shape == (2, 20, 3, 5)
    assert torch.equal(nn.PixelShuffle(2)(down), x)
    assert torch.equal(nn.PixelUnshuffle(2)(nn.PixelShuffle(2)(down)), down)
    # Each 2×2 block becomes four channels, in row-major order: nothing is dropped.
    assert torch.equal(down[0, 0:4, 1, 2], x[0, 0, 2:4, 4:6].flatten())


def test_the_analysis_halves_and_the_synthesis_doubles_the_resolution():
    analysis = signal_preserving_analysis(12, 8, 6)
    synthesis = signal_preserving_synthesis(6, 8, 12)
    z = analysis(torch.randn(1, 12, 8, 6))
    assert z.shape == (1, 6, 4, 3)
    assert synthesis(z).shape == (1, 12, 8, 6)
    # Only the first layer has a spatial kernel before the space-to-depth; after it, 1×1.
    kernels = [m.kernel_size for m in analysis if isinstance(m, nn.Conv2d)]
    assert kernels == [(3, 3), (1, 1), (1, 1), (1, 1)]
    assert isinstance(analysis[1], nn.PixelUnshuffle) and isinstance(synthesis[5], nn.PixelShuffle)
