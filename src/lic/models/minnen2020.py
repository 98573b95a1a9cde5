"""Minnen & Singh 2020, "Channel-wise autoregressive entropy models for learned image
compression" (ICIP): the mean-scale hyperprior with y coded in S equal channel slices, each
conditioned on the slices before it, with latent residual prediction (`lic.contexts.Slices`,
fig. 2). Every slice is decoded in one parallel pass: S passes in all, whatever the image size.
"""

from __future__ import annotations

from lic.contexts import Slices
from lic.models.mbt2018 import MeanScaleHyperprior
from lic.models.registry import register_family


class ChannelSlices(MeanScaleHyperprior):
    """minnen2020: channel-conditional mean-scale model with latent residual prediction."""

    family = "minnen2020"

    def __init__(
        self,
        N: int = 128,
        M: int = 192,
        rate_points: int = 0,
        slices: int = 6,
        *,
        quality: int | None = None,
    ) -> None:
        super().__init__(N, M, rate_points, quality=quality)
        self.slices = slices
        self.context = Slices(M, slices)


register_family(ChannelSlices)
