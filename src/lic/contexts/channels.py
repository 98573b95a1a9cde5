"""Channel-conditional contexts: y split along channels into groups coded one after another.

Group k is coded by an inner context (mean-scale, or a checkerboard) whose ψ_k is computed from
ψ and the groups already decoded, ŷ_<k; nothing of group k or later reaches ψ_k, so the decoder
can form it. Two instances of the pattern:
- `Slices`: Minnen & Singh 2020 ("Channel-wise autoregressive entropy models for learned image
  compression", ICIP, fig. 2): S equal slices; slice i's μ and σ from 3×3 conv transforms of
  [μ or σ half of ψ, ŷ_<i], and latent residual prediction adding ½·tanh(LRP_i([μ half of ψ,
  ŷ_≤i])) to each decoded slice, which reduces the quantization error the synthesis sees.
- `SpaceChannel`: ELIC (He et al. 2022, "ELIC: efficient learned image compression with
  unevenly grouped space-channel contextual adaptive coding", CVPR, sec. 3.2, fig. 4): uneven
  groups (16, 16, 32, 64, M − 128), a channel context g_ch,k(ŷ_<k) per group after the first, and
  the checkerboard inside each group, whose parameter aggregation (1×1 convolutions) sees
  [ψ, g_ch,k, its spatial context]. Two parallel passes per group.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lic.coding import Decoder, Encoder
from lic.contexts.base import Context, MeanScale
from lic.contexts.checkerboard import Checkerboard
from lic.entropy import GaussianConditional
from lic.layers import conv


class ChannelGroups(Context):
    """y in channel groups of `sizes`, coded in order; subclasses say how ψ_k is made
    (`condition`), what codes each group (`inner`) and what refines a decoded group (`refine`)."""

    def __init__(self, sizes: Sequence[int], entropy: GaussianConditional | None = None) -> None:
        super().__init__(entropy)
        if not sizes or any(s < 1 for s in sizes):
            raise ValueError(f"channel groups must be positive, got {list(sizes)}")
        self.sizes = list(sizes)
        self.inner = nn.ModuleList()

    def condition(self, k: int, psi: torch.Tensor, decoded: list[torch.Tensor]) -> torch.Tensor:
        """ψ_k of group k from ψ and the decoded groups before it."""
        raise NotImplementedError

    def refine(
        self, k: int, psi: torch.Tensor, decoded: list[torch.Tensor], y_hat: torch.Tensor
    ) -> torch.Tensor:
        """Group k's ŷ as the later groups and the synthesis see it (identity by default)."""
        return y_hat

    def _run(self, psi: torch.Tensor, code_group) -> torch.Tensor:
        """Visit the groups in order; `code_group(k, ψ_k)` returns group k's ŷ."""
        decoded: list[torch.Tensor] = []
        for k in range(len(self.sizes)):
            y_hat = code_group(k, self.condition(k, psi, decoded))
            decoded.append(self.refine(k, psi, decoded, y_hat))
        return torch.cat(decoded, 1)

    def forward(self, y: torch.Tensor, psi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pieces, likelihoods = y.split(self.sizes, 1), []

        def code_group(k: int, psi_k: torch.Tensor) -> torch.Tensor:
            y_hat, likelihood = self.inner[k](pieces[k], psi_k)
            likelihoods.append(likelihood)
            return y_hat

        y_hat = self._run(psi, code_group)
        return y_hat, torch.cat(likelihoods, 1)

    def compress(self, encoder: Encoder, y: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
        pieces = y.split(self.sizes, 1)
        return self._run(psi, lambda k, psi_k: self.inner[k].compress(encoder, pieces[k], psi_k))

    def decompress(self, decoder: Decoder, psi: torch.Tensor) -> torch.Tensor:
        return self._run(psi, lambda k, psi_k: self.inner[k].decompress(decoder, psi_k))


def slice_transform(in_channels: int, out_channels: int) -> nn.Sequential:
    """3×3 conv stack of the conditional-mean, conditional-scale and LRP transforms
    (Minnen & Singh 2020, fig. 2)."""
    return nn.Sequential(
        conv(in_channels, 128, 3, 1),
        nn.ReLU(inplace=True),
        conv(128, 64, 3, 1),
        nn.ReLU(inplace=True),
        conv(64, out_channels, 3, 1),
    )


class Slices(ChannelGroups):
    """Minnen & Singh 2020: `slices` equal slices of M channels; ψ is (σ, μ) of the
    hyperprior, 2M channels."""

    def __init__(self, M: int, slices: int, entropy: GaussianConditional | None = None) -> None:
        if M % slices:
            raise ValueError(f"M={M} does not split into {slices} equal slices")
        width = M // slices
        super().__init__([width] * slices, entropy)
        self.inner.extend(MeanScale(self.entropy) for _ in range(slices))
        self.mean_transforms = nn.ModuleList(
            slice_transform(M + i * width, width) for i in range(slices)
        )
        self.scale_transforms = nn.ModuleList(
            slice_transform(M + i * width, width) for i in range(slices)
        )
        self.residual_transforms = nn.ModuleList(
            slice_transform(M + (i + 1) * width, width) for i in range(slices)
        )

    def condition(self, k: int, psi: torch.Tensor, decoded: list[torch.Tensor]) -> torch.Tensor:
        scale_hyper, mean_hyper = psi.chunk(2, 1)
        means = self.mean_transforms[k](torch.cat([mean_hyper, *decoded], 1))
        scales = self.scale_transforms[k](torch.cat([scale_hyper, *decoded], 1))
        return torch.cat([scales, means], 1)

    def refine(
        self, k: int, psi: torch.Tensor, decoded: list[torch.Tensor], y_hat: torch.Tensor
    ) -> torch.Tensor:
        """Latent residual prediction (sec. 2 of the paper): ŷ + ½·tanh(LRP_k(·))."""
        _, mean_hyper = psi.chunk(2, 1)
        lrp = self.residual_transforms[k](torch.cat([mean_hyper, *decoded, y_hat], 1))
        return y_hat + 0.5 * torch.tanh(lrp)


def channel_ramp(
    in_channels: int, out_channels: int, kernel_size: int, layers: int = 3
) -> nn.Sequential:
    """`layers` stride-1 convolutions with ReLU between, their widths stepping linearly from
    `in_channels` to `out_channels` (ELIC's channel-context and aggregation networks)."""
    widths = [in_channels + (out_channels - in_channels) * i // layers for i in range(layers + 1)]
    modules: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        modules.append(conv(a, b, kernel_size, 1))
        if i < layers - 1:
            modules.append(nn.ReLU(inplace=True))
    return nn.Sequential(*modules)


#: ELIC's uneven channel groups for M = 320 (sec. 3.2): small groups first, where most of the
#: information is, so the later and larger groups have the most context.
ELIC_GROUPS = (16, 16, 32, 64, 192)


def elic_groups(M: int) -> tuple[int, ...]:
    """ELIC's groups for M channels: 16, 16, 32, 64 and the rest (M − 128)."""
    if M <= 128:
        raise ValueError(f"ELIC's groups need M > 128, got {M}")
    return (*ELIC_GROUPS[:4], M - 128)


class SpaceChannel(ChannelGroups):
    """ELIC's space-channel context: channel groups, the checkerboard inside each.

    Args:
        psi_channels: channels of ψ (the hyper-synthesis output).
        sizes: channel groups (`elic_groups(M)`).
        entropy: the Gaussian conditional to code with.
    """

    def __init__(
        self, psi_channels: int, sizes: Sequence[int], entropy: GaussianConditional | None = None
    ) -> None:
        super().__init__(sizes, entropy)
        self.channel_context = nn.ModuleList(
            channel_ramp(sum(self.sizes[:k]), 2 * size, 5) for k, size in enumerate(self.sizes) if k
        )
        for k, size in enumerate(self.sizes):
            side = psi_channels + (2 * size if k else 0)  # [ψ, g_ch,k]
            aggregation = channel_ramp(side + 2 * size, 2 * size, 1)
            self.inner.append(Checkerboard(size, aggregation, self.entropy))

    def condition(self, k: int, psi: torch.Tensor, decoded: list[torch.Tensor]) -> torch.Tensor:
        if k == 0:
            return psi
        context = self.channel_context[k - 1](torch.cat(decoded, 1))
        return torch.cat([psi, context.to(psi.dtype)], 1)
