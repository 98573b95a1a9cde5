"""Minnen, Ballé & Toderici 2018, "Joint autoregressive and hierarchical priors for learned
image compression" (NeurIPS): the mean-scale hyperprior, and the joint autoregressive and
hierarchical prior.

The transforms g_a and g_s are those of Ballé et al. 2018. The hyper-analysis takes y itself
(not |y|, since it must now describe means too) and the hyper-synthesis predicts a mean and a
scale for every element of y (figure 4 of the paper):
  h_a: conv3×3 (N), LeakyReLU, conv5×5↓2 (N), LeakyReLU, conv5×5↓2 (N)
  h_s: deconv5×5↑2 (M), LeakyReLU, deconv5×5↑2 (3M/2), LeakyReLU, conv3×3 (2M) → (σ, μ)
y − μ is rounded and coded under N(0, σ²) convolved with a unit uniform (eq. 3 of the paper).
The joint model adds the raster-order autoregressive context (`lic.contexts.Raster`).
"""

from __future__ import annotations

import torch
from torch import nn

from lic.contexts import MeanScale, Raster
from lic.layers import conv, deconv
from lic.models.bmshj2018 import ScaleHyperprior
from lic.models.registry import register_family


def entropy_parameters(M: int) -> nn.Sequential:
    """1×1 convolutions from [hyper (2M), context (2M)] to (σ, μ) (figure 4 of the paper)."""
    return nn.Sequential(
        conv(M * 4, M * 10 // 3, 1, 1),
        nn.LeakyReLU(inplace=True),
        conv(M * 10 // 3, M * 8 // 3, 1, 1),
        nn.LeakyReLU(inplace=True),
        conv(M * 8 // 3, M * 2, 1, 1),
    )


class MeanScaleHyperprior(ScaleHyperprior):
    """mbt2018-mean: the hyperprior predicts μ and σ of each element of y."""

    family = "mbt2018-mean"

    def __init__(
        self, N: int = 128, M: int = 192, rate_points: int = 0, *, quality: int | None = None
    ) -> None:
        super().__init__(N, M, rate_points, quality=quality)
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
        self.context = MeanScale()

    def hyper_input(self, y: torch.Tensor) -> torch.Tensor:
        return y


class JointAutoregressive(MeanScaleHyperprior):
    """mbt2018: mean-scale hyperprior joined with a raster-order autoregressive context."""

    family = "mbt2018"

    def __init__(
        self, N: int = 192, M: int = 192, rate_points: int = 0, *, quality: int | None = None
    ) -> None:
        super().__init__(N, M, rate_points, quality=quality)
        self.context = Raster(M, entropy_parameters(M))


register_family(MeanScaleHyperprior)
register_family(JointAutoregressive)
