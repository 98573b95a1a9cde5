"""Minnen & Singh 2020, "Channel-wise autoregressive entropy models for learned image
compression" (ICIP).

y is split along channels into S slices coded in order. Slice i's mean and scale come from the
hyperprior's mean and scale outputs and the slices already decoded, through small conv
transforms (figure 2 of the paper); after a slice is decoded, latent residual prediction adds
½·tanh(LRP_i([μ_hyper, ŷ_0 … ŷ_i])) to it, reducing the quantization error seen by g_s.
Every slice is decoded in one parallel pass: S passes in all, whatever the image size.
"""

from __future__ import annotations

import torch
from torch import nn

from lic.coding import Decoder, Encoder
from lic.layers import conv
from lic.models.mbt2018 import MeanScaleHyperprior
from lic.models.registry import register_family


def slice_transform(in_channels: int, out_channels: int) -> nn.Sequential:
    """3×3 conv stack of the conditional-mean, conditional-scale and LRP transforms."""
    return nn.Sequential(
        conv(in_channels, 128, 3, 1),
        nn.ReLU(inplace=True),
        conv(128, 64, 3, 1),
        nn.ReLU(inplace=True),
        conv(64, out_channels, 3, 1),
    )


class ChannelSlices(MeanScaleHyperprior):
    """minnen2020: channel-conditional mean-scale model with latent residual prediction."""

    def __init__(self, N: int = 128, M: int = 192, rate_points: int = 0, slices: int = 6) -> None:
        super().__init__(N, M, rate_points)
        if M % slices:
            raise ValueError(f"M={M} does not split into {slices} equal slices")
        self.slices = slices
        width = M // slices
        self.mean_transforms = nn.ModuleList(
            slice_transform(M + i * width, width) for i in range(slices)
        )
        self.scale_transforms = nn.ModuleList(
            slice_transform(M + i * width, width) for i in range(slices)
        )
        self.residual_transforms = nn.ModuleList(
            slice_transform(M + (i + 1) * width, width) for i in range(slices)
        )

    def _slice_params(
        self, i: int, hyper: torch.Tensor, decoded: list[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        scale_hyper, mean_hyper = hyper.chunk(2, 1)
        means = self.mean_transforms[i](torch.cat([mean_hyper, *decoded], 1))
        scales = self.scale_transforms[i](torch.cat([scale_hyper, *decoded], 1))
        return scales, means

    def _residual(self, i: int, hyper: torch.Tensor, decoded: list[torch.Tensor]) -> torch.Tensor:
        """Latent residual prediction (sec. 2 of the paper): ½·tanh(LRP_i(·))."""
        _, mean_hyper = hyper.chunk(2, 1)
        return 0.5 * torch.tanh(self.residual_transforms[i](torch.cat([mean_hyper, *decoded], 1)))

    def _run(self, hyper: torch.Tensor, code_slice) -> torch.Tensor:
        """Visit the slices in order; `code_slice(i, scales, means)` returns slice i's ŷ."""
        decoded: list[torch.Tensor] = []
        for i in range(self.slices):
            scales, means = self._slice_params(i, hyper, decoded)
            y_hat = code_slice(i, scales, means)
            decoded.append(y_hat + self._residual(i, hyper, [*decoded, y_hat]))
        return torch.cat(decoded, 1)

    def y_forward(self, y: torch.Tensor, hyper: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pieces, likelihoods = y.chunk(self.slices, 1), []

        def code_slice(i: int, scales: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
            y_hat, likelihood = self.entropy_y(pieces[i], scales, means)
            likelihoods.append(likelihood)
            return y_hat

        y_hat = self._run(hyper, code_slice)
        return y_hat, torch.cat(likelihoods, 1)

    def y_compress(self, encoder: Encoder, y: torch.Tensor, hyper: torch.Tensor) -> None:
        pieces = y.chunk(self.slices, 1)
        self._run(hyper, lambda i, s, m: self.entropy_y.compress(encoder, pieces[i], s, m))

    def y_decompress(self, decoder: Decoder, hyper: torch.Tensor) -> torch.Tensor:
        return self._run(hyper, lambda i, s, m: self.entropy_y.decompress(decoder, s, m))


_SIZES = {
    q: {"N": 128, "M": 192} if q <= 4 else {"N": 192, "M": 320, "slices": 10} for q in range(1, 9)
}

register_family("minnen2020", ChannelSlices, _SIZES)
