"""Cheng, Sun, Takeuchi & Katto 2020, "Learned image compression with discretized Gaussian
mixture likelihoods and attention modules" (CVPR).

The transforms (sec. 3.2, fig. 3) replace the 5×5 strided convolutions by residual blocks
(`lic.layers.residual`), with the simplified attention module (sec. 3.3, `AttentionBlock`) at
two scales in the attention model; M = N:
  g_a: RB↓2 (N), RB, RB↓2, [attention], RB, RB↓2, RB, conv3×3↓2, [attention]
  g_s: [attention], RB, RB↑2, RB, RB↑2, [attention], RB, RB↑2, RB, sub-pixel conv↑2 (3)
  h_a: conv3×3, LeakyReLU, conv3×3, LeakyReLU, conv3×3↓2, LeakyReLU, conv3×3, LeakyReLU,
       conv3×3↓2 (all N)
  h_s: conv3×3 (N), LeakyReLU, sub-pixel↑2 (N), LeakyReLU, conv3×3 (3N/2), LeakyReLU,
       sub-pixel↑2 (3N/2), LeakyReLU, conv3×3 (2N) = ψ
The entropy model of y (sec. 3.1) is a discretized Gaussian mixture of K = 3 components in
`cheng2020-attn` (`lic.entropy.GaussianMixtureConditional`) and a single Gaussian in
`cheng2020-anchor`; its parameters come from [ψ, context] through 1×1 convolutions. The paper's
context is the serial raster-order one of Minnen et al. 2018; lic decodes with the two-pass
checkerboard context (He et al. 2021) by default, so that decoding stays a few parallel passes,
and builds the paper's with `context="raster"`.
"""

from __future__ import annotations

from torch import nn

from lic.contexts import Checkerboard, Raster
from lic.entropy import GaussianConditional, GaussianMixtureConditional
from lic.layers import (
    AttentionBlock,
    ResidualBlock,
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    conv,
    subpixel_conv,
)
from lic.models.mbt2018 import MeanScaleHyperprior
from lic.models.registry import register_family

#: Latent positions each tile of the residual transforms reads beyond its own (as ELIC's: the
#: attention modules at the coarse scales see ±3 positions, the blocks at the fine ones more).
CHENG_HALO = 8
#: Mixture components of cheng2020-attn (sec. 3.1: K = 3).
COMPONENTS = 3


def analysis_transform(N: int, attention: bool) -> nn.Sequential:
    """g_a of fig. 3, with the attention modules when `attention`."""
    return nn.Sequential(
        ResidualBlockWithStride(3, N),
        ResidualBlock(N, N),
        ResidualBlockWithStride(N, N),
        *([AttentionBlock(N)] if attention else []),
        ResidualBlock(N, N),
        ResidualBlockWithStride(N, N),
        ResidualBlock(N, N),
        conv(N, N, 3, 2),
        *([AttentionBlock(N)] if attention else []),
    )


def synthesis_transform(N: int, attention: bool) -> nn.Sequential:
    """g_s of fig. 3, the mirror of g_a, ending in a sub-pixel convolution to 3 channels."""
    return nn.Sequential(
        *([AttentionBlock(N)] if attention else []),
        ResidualBlock(N, N),
        ResidualBlockUpsample(N, N),
        ResidualBlock(N, N),
        ResidualBlockUpsample(N, N),
        *([AttentionBlock(N)] if attention else []),
        ResidualBlock(N, N),
        ResidualBlockUpsample(N, N),
        ResidualBlock(N, N),
        subpixel_conv(N, 3),
    )


def hyper_analysis(N: int) -> nn.Sequential:
    """h_a of fig. 3: 3×3 convolutions, two of them with stride 2."""
    layers: list[nn.Module] = []
    for stride in (1, 1, 2, 1):
        layers += [conv(N, N, 3, stride), nn.LeakyReLU(inplace=True)]
    return nn.Sequential(*layers, conv(N, N, 3, 2))


def hyper_synthesis(N: int) -> nn.Sequential:
    """h_s of fig. 3: 3×3 and sub-pixel convolutions up to ψ (2N channels)."""
    return nn.Sequential(
        conv(N, N, 3, 1),
        nn.LeakyReLU(inplace=True),
        subpixel_conv(N, N),
        nn.LeakyReLU(inplace=True),
        conv(N, N * 3 // 2, 3, 1),
        nn.LeakyReLU(inplace=True),
        subpixel_conv(N * 3 // 2, N * 3 // 2),
        nn.LeakyReLU(inplace=True),
        conv(N * 3 // 2, N * 2, 3, 1),
    )


def entropy_parameters(N: int, per_latent: int) -> nn.Sequential:
    """1×1 convolutions from [ψ (2N), context (2N)] to `per_latent`·N entropy parameters."""
    return nn.Sequential(
        conv(N * 4, N * 10 // 3, 1, 1),
        nn.LeakyReLU(inplace=True),
        conv(N * 10 // 3, N * 8 // 3, 1, 1),
        nn.LeakyReLU(inplace=True),
        conv(N * 8 // 3, N * per_latent, 1, 1),
    )


class Cheng2020Anchor(MeanScaleHyperprior):
    """cheng2020-anchor: residual-block transforms, a single Gaussian per latent.

    Args:
        N: channels of the transforms and of y (M = N).
        rate_points: variable-rate gain units (qualities 9 − rate_points … 8), or 0.
        context: "checkerboard" (two passes, lic's default) or "raster" (the paper's).
    """

    family = "cheng2020-anchor"
    small_sizes = {"N": 24}
    attention = False
    #: h_a sees ±7 y positions (< 3 z positions), h_s ±3.25 z positions.
    hyper_halos = (3, 4)

    def __init__(
        self,
        N: int = 128,
        rate_points: int = 0,
        context: str = "checkerboard",
        *,
        quality: int | None = None,
    ) -> None:
        super().__init__(N, N, rate_points, quality=quality)
        self.analysis = analysis_transform(N, self.attention)
        self.synthesis = synthesis_transform(N, self.attention)
        self.hyper_analysis = hyper_analysis(N)
        self.hyper_synthesis = hyper_synthesis(N)
        self.tile_halo = CHENG_HALO
        # y's gains sit beside residual blocks, not convolutions: they do not fold.
        self.gain_sites = {"z": self.gain_sites["z"]}
        entropy = self.y_entropy_model()
        parameters = entropy_parameters(N, entropy.parameters_per_latent)
        contexts = {"checkerboard": Checkerboard, "raster": Raster}
        if context not in contexts:
            raise ValueError(f"context must be 'checkerboard' or 'raster', got {context!r}")
        self.context = contexts[context](N, parameters, entropy)

    def y_entropy_model(self) -> GaussianConditional | GaussianMixtureConditional:
        """The entropy model of y: a single Gaussian."""
        return GaussianConditional()


class Cheng2020Attention(Cheng2020Anchor):
    """cheng2020-attn: attention modules in the transforms, a mixture of K = 3 Gaussians per
    latent (arguments: `Cheng2020Anchor`)."""

    family = "cheng2020-attn"
    attention = True

    def y_entropy_model(self) -> GaussianMixtureConditional:
        """The entropy model of y: a discretized mixture of `COMPONENTS` Gaussians."""
        return GaussianMixtureConditional(COMPONENTS)


register_family(Cheng2020Anchor)
register_family(Cheng2020Attention)
