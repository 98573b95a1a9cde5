"""The simplified attention module of Cheng et al. 2020, also used by ELIC's transforms.

Cheng, Sun, Takeuchi & Katto 2020, "Learned image compression with discretized Gaussian mixture
likelihoods and attention modules" (CVPR), sec. 3.3 and fig. 3, keep the trunk / mask structure
of the residual attention network (Wang et al. 2017) and of Liu et al.'s non-local attention
module, but drop the non-local block: both branches are three residual units, the mask ends in
a 1×1 convolution and a sigmoid. He et al. 2022 (ELIC) place the same module in their analysis
and synthesis transforms, so `AttentionBlock` serves both models.
"""

from __future__ import annotations

import torch
from torch import nn

from lic.layers.conv import conv
from lic.layers.residual import ResidualBottleneck, require_even, require_positive


class ResidualUnit(nn.Module):
    """The residual unit of the attention module (Cheng et al. 2020, fig. 3).

    y = ReLU(x + W₃ ReLU(W₂ ReLU(W₁ x))): 1×1 convolution to C/2, 3×3 convolution C/2 → C/2,
    1×1 convolution back to C, the identity added, then a ReLU after the sum.

    Choice: the ReLU after the sum is the post-activation ResNet unit (He et al. 2016), the
    reading of fig. 3 taken here; without it the unit is ELIC's `ResidualBottleneck`, which
    this wraps (state-dict keys `bottleneck.conv1` … `bottleneck.conv3`). The ReLU makes the
    unit's output non-negative, so the trunk T(x) of `AttentionBlock` is ≥ 0.

    Receptive field: radius 1 (a 3×3 window).

    Args:
        channels: C, even.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        require_positive("ResidualUnit", channels=channels)
        require_even("ResidualUnit", "channels", channels)
        self.bottleneck = ResidualBottleneck(channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bottleneck(x))


class AttentionBlock(nn.Module):
    """Simplified attention module (Cheng et al. 2020, sec. 3.3, fig. 3; ELIC's "attention").

    y = x + T(x) ⊙ σ(W M(x)), T (the trunk) and M (the mask branch) each three `ResidualUnit`s,
    W a 1×1 convolution, σ the logistic sigmoid, ⊙ the element-wise product. The mask, in
    (0, 1) for every channel and pixel, scales the trunk's features; the identity keeps the
    block near x when the mask is small.

    Receptive field: radius 3 (a 7×7 window: three 3×3 convolutions in each branch); the output
    has the input's shape.

    Args:
        channels: C, even (the residual units work at C/2).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        require_positive("AttentionBlock", channels=channels)
        require_even("AttentionBlock", "channels", channels)
        self.trunk = nn.Sequential(*(ResidualUnit(channels) for _ in range(3)))
        self.mask = nn.Sequential(
            *(ResidualUnit(channels) for _ in range(3)),
            conv(channels, channels, kernel_size=1, stride=1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.trunk(x) * self.mask(x)
