"""Minnen, Ballé & Toderici 2018, "Joint autoregressive and hierarchical priors for learned
image compression" (NeurIPS): the mean-scale hyperprior.

The transforms g_a and g_s are those of Ballé et al. 2018. The hyper-analysis takes y itself
(not |y|, since it must now describe means too) and the hyper-synthesis predicts a mean and a
scale for every element of y (figure 4 of the paper):
  h_a: conv3×3 (N), LeakyReLU, conv5×5↓2 (N), LeakyReLU, conv5×5↓2 (N)
  h_s: deconv5×5↑2 (M), LeakyReLU, deconv5×5↑2 (3M/2), LeakyReLU, conv3×3 (2M) → (σ, μ)
y − μ is rounded and coded under N(0, σ²) convolved with a unit uniform (eq. 3 of the paper).
"""

from __future__ import annotations

import torch
from torch import nn

from lic.coding import Decoder, Encoder
from lic.layers import conv, deconv
from lic.models.bmshj2018 import ScaleHyperprior
from lic.models.registry import ModelSpec, register


class MeanScaleHyperprior(ScaleHyperprior):
    """mbt2018-mean: the hyperprior predicts μ and σ of each element of y."""

    def __init__(self, N: int = 128, M: int = 192, rate_points: int = 0) -> None:
        super().__init__(N, M, rate_points)
        self.hyper_analysis = nn.Sequential(
            conv(M, N, 3, 1),
            nn.LeakyReLU(inplace=True),
            conv(N, N),
            nn.LeakyReLU(inplace=True),
            conv(N, N),
        )
        self.hyper_synthesis = nn.Sequential(
            deconv(N, M),
            nn.LeakyReLU(inplace=True),
            deconv(M, M * 3 // 2),
            nn.LeakyReLU(inplace=True),
            conv(M * 3 // 2, M * 2, 3, 1),
        )

    def hyper_input(self, y: torch.Tensor) -> torch.Tensor:
        return y

    def y_forward(self, y: torch.Tensor, hyper: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scales, means = hyper.chunk(2, 1)
        return self.entropy_y(y, scales, means)

    def y_compress(self, encoder: Encoder, y: torch.Tensor, hyper: torch.Tensor) -> None:
        scales, means = hyper.chunk(2, 1)
        self.entropy_y.compress(encoder, y, scales, means)

    def y_decompress(self, decoder: Decoder, hyper: torch.Tensor) -> torch.Tensor:
        scales, means = hyper.chunk(2, 1)
        return self.entropy_y.decompress(decoder, scales, means)


_SIZES = {q: {"N": 128, "M": 192} if q <= 4 else {"N": 192, "M": 320} for q in range(1, 9)}

register(ModelSpec("mbt2018-mean", MeanScaleHyperprior, _SIZES))
register(
    ModelSpec(
        "mbt2018-mean-vr",
        MeanScaleHyperprior,
        {0: {"N": 128, "M": 192, "rate_points": 8}},
        variable_rate=True,
    )
)
