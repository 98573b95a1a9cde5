"""He, Yang, Peng, Ma, Qin & Wang 2022, "ELIC: Efficient learned image compression with unevenly
grouped space-channel contextual adaptive coding" (CVPR).

The entropy model is the space-channel context (SCCTX, sec. 3.2; `lic.contexts.SpaceChannel`):
y in uneven channel groups 16, 16, 32, 64, M − 128, each coded with the checkerboard inside it,
its parameters aggregated from the hyperprior's ψ, the groups before it (channel context) and
its own anchors (spatial context): two parallel passes per group, ten in all. The hyperprior is
the mean-scale one of Minnen et al. 2018 (ψ has 2M channels).

The transforms (sec. 3.3, fig. 6) stack residual bottleneck blocks and the simplified attention
module of Cheng et al. 2020 between the four stride-2 5×5 convolutions, N = 192, M = 320:
  g_a: conv↓2 (N), 3 RB, conv↓2 (N), 3 RB, attention, conv↓2 (N), 3 RB, conv↓2 (M), attention
  g_s: attention, deconv↑2 (N), 3 RB, deconv↑2 (N), attention, 3 RB, deconv↑2 (N), 3 RB,
       deconv↑2 (3)
`transforms="gdn"` keeps the GDN transforms of Ballé et al. 2018 instead (ELIC's context on the
shipped models' transforms, which can start from their weights: `docs/training-log.md` says
which variant ships, with the figures that chose it).
"""

from __future__ import annotations

from torch import nn

from lic.contexts import SpaceChannel, elic_groups
from lic.layers import AttentionBlock, ResidualBottleneck, conv, deconv
from lic.models.mbt2018 import MeanScaleHyperprior
from lic.models.registry import register_family

#: Latent positions each tile of the ELIC transforms reads beyond its own on every side
#: (`lic.models.tiling`): the attention at y alone sees ±3, the blocks at the finer scales ±4
#: more (in y positions, rounded up).
ELIC_HALO = 8


def _blocks(channels: int) -> list[nn.Module]:
    return [ResidualBottleneck(channels) for _ in range(3)]


def analysis_transform(N: int, M: int) -> nn.Sequential:
    """g_a of ELIC (fig. 6): residual bottlenecks and attention between 5×5 ↓2 convolutions."""
    return nn.Sequential(
        conv(3, N),
        *_blocks(N),
        conv(N, N),
        *_blocks(N),
        AttentionBlock(N),
        conv(N, N),
        *_blocks(N),
        conv(N, M),
        AttentionBlock(M),
    )


def synthesis_transform(N: int, M: int) -> nn.Sequential:
    """g_s of ELIC (fig. 6), the mirror of g_a."""
    return nn.Sequential(
        AttentionBlock(M),
        deconv(M, N),
        *_blocks(N),
        deconv(N, N),
        AttentionBlock(N),
        *_blocks(N),
        deconv(N, N),
        *_blocks(N),
        deconv(N, 3),
    )


class ELIC(MeanScaleHyperprior):
    """elic2022: the space-channel context on a mean-scale hyperprior.

    Args:
        N, M: channels of the transforms and of y.
        rate_points: variable-rate gain units (qualities 9 − rate_points … 8), or 0.
        transforms: "elic" (the paper's) or "gdn" (Ballé et al. 2018's).
    """

    family = "elic2022"
    small_sizes = {"N": 16, "M": 136}  # ELIC's groups need M > 128

    def __init__(
        self,
        N: int = 192,
        M: int = 320,
        rate_points: int = 0,
        transforms: str = "elic",
        *,
        quality: int | None = None,
    ) -> None:
        super().__init__(N, M, rate_points, quality=quality)
        if transforms == "elic":
            self.analysis = analysis_transform(N, M)
            self.synthesis = synthesis_transform(N, M)
            self.tile_halo = ELIC_HALO
            # y's gains sit between attention blocks, not convolutions: they do not fold.
            self.gain_sites = {"z": self.gain_sites["z"]}
        elif transforms != "gdn":
            raise ValueError(f"transforms must be 'elic' or 'gdn', got {transforms!r}")
        self.transforms = transforms
        self.context = SpaceChannel(2 * M, elic_groups(M))


class ELICMSSSIM(ELIC):
    """elic2022-ms-ssim: the same network, trained for λ·(1 − MS-SSIM) + R (the field's
    MS-SSIM λ table, `lic.train.loss`; `lic train --metric ms-ssim`) from the MSE model's
    weights, for those who prefer structure to PSNR. Its own name, so that a file says which
    weights decode it."""

    family = "elic2022-ms-ssim"
    metric = "ms-ssim"


register_family(ELIC)
register_family(ELICMSSSIM)
