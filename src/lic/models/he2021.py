"""He, Zheng, Sun, Wang & Qin 2021, "Checkerboard context model for efficient learned image
compression" (CVPR).

The latents are split in two checkerboard phases. Anchors ((h + w) even) are coded with the
mean-scale hyperprior alone; non-anchors also see a context computed from the decoded anchors
by a 5×5 checkerboard-masked convolution (sec. 3.2). Entropy parameters come from 1×1
convolutions over [hyper output, context] as in Minnen et al. 2018 (fig. 4), with the context
set to zero at the anchors (eq. 6). Decoding is two parallel passes, not H·W serial steps.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lic.coding import Decoder, Encoder
from lic.entropy import quantize, round_straight_through
from lic.layers import MaskedConv2d, checkerboard
from lic.models.mbt2018 import MeanScaleHyperprior, entropy_parameters
from lic.models.registry import register_family

#: Positions whose entropy parameters are computed at once in coding (~75 MB in float64).
POSITIONS = 8192


class Checkerboard(MeanScaleHyperprior):
    """he2021-checkerboard: two-pass checkerboard context on a mean-scale hyperprior."""

    def __init__(self, N: int = 128, M: int = 192, rate_points: int = 0) -> None:
        super().__init__(N, M, rate_points)
        self.context_prediction = MaskedConv2d(M, M * 2, 5, kind="checkerboard")
        self.entropy_parameters = entropy_parameters(M)

    def _params(
        self, hyper: torch.Tensor, context: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(σ, μ) everywhere from [hyper output, context] (dense: training)."""
        scales, means = self.entropy_parameters(torch.cat([hyper, context], 1)).chunk(2, 1)
        return scales, means

    def _fill_params(
        self,
        grid: torch.Tensor,
        hyper: torch.Tensor,
        anchors_hat: torch.Tensor | None,
        phase: torch.Tensor,
    ) -> None:
        """Write (σ, μ) at the positions of `phase` [1, 1, H, W] alone into `grid` [B, 2M, H·W].

        The entropy parameters are 1×1 convolutions: each position's come from its own features,
        so coding computes them only where a pass codes (half the grid each), as [B, C, P, 1]
        columns, `POSITIONS` at a time (bounded memory for any image size). The context comes
        from the decoded `anchors_hat` through the masked convolution's taps, or is zero at the
        anchors themselves (`anchors_hat` None, eq. 6)."""
        features = hyper.flatten(2)
        for positions in phase.flatten().nonzero().squeeze(1).split(POSITIONS):
            hyper_at = features[:, :, positions]
            if anchors_hat is None:
                context = hyper_at.new_zeros(hyper_at.shape)
            else:
                context = self.context_prediction.at(anchors_hat, positions)
            params = self.entropy_parameters(torch.cat([hyper_at, context], 1)[..., None])
            grid[:, :, positions] = params[..., 0]

    def _passes(
        self,
        hyper: torch.Tensor,
        decoded_anchors: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The two passes shared by coding and the eval forward: (σ, μ) of the anchors from the
        hyperprior alone, ŷ of the anchors from `decoded_anchors(σ, μ, anchor mask)`, then
        (σ, μ) of the non-anchors from them through the masked context, evaluated at the
        non-anchors alone.
        Returns the anchor mask, ŷ of the anchors, and σ, μ of both phases together."""
        batch, _, height, width = hyper.shape
        anchor = checkerboard(height, width, anchor=True).to(hyper.device)
        grid = hyper.new_zeros(batch, self.M * 2, height * width)
        scales, means = grid.view(batch, self.M * 2, height, width).chunk(2, 1)
        self._fill_params(grid, hyper, None, anchor)
        anchors_hat = decoded_anchors(scales, means, anchor)
        self._fill_params(grid, hyper, anchors_hat, ~anchor)
        return anchor, anchors_hat, scales, means

    def y_forward(self, y: torch.Tensor, hyper: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training:  # one dense pass: the anchors' context is zero whatever ŷ is fed in
            if self.entropy_y.straight_through:  # the anchors as coded, around their own μ
                _, anchor_means = self._params(hyper, torch.zeros_like(hyper))
                anchors_hat = round_straight_through(y.float(), anchor_means.float())
            else:
                anchors_hat = quantize(y, True)
            anchor = checkerboard(*y.shape[2:], anchor=True).to(y.dtype)
            context = self.context_prediction(anchors_hat * anchor) * (1 - anchor)
            return self.entropy_y(y, *self._params(hyper, context))
        # The anchors exactly as coded: rounded around their hyperprior-only means.
        _, _, scales, means = self._passes(hyper, lambda _, mu, __: quantize(y, False, mu))
        return self.entropy_y(y, scales, means)

    def y_compress(self, encoder: Encoder, y: torch.Tensor, hyper: torch.Tensor) -> None:
        def code_anchors(scales: torch.Tensor, means: torch.Tensor, anchor: torch.Tensor):
            return self.entropy_y.compress(encoder, y, scales, means, mask=anchor)

        anchor, _, scales, means = self._passes(hyper, code_anchors)
        self.entropy_y.compress(encoder, y, scales, means, mask=~anchor)

    def y_decompress(self, decoder: Decoder, hyper: torch.Tensor) -> torch.Tensor:
        def decode_anchors(scales: torch.Tensor, means: torch.Tensor, anchor: torch.Tensor):
            return self.entropy_y.decompress(decoder, scales, means, mask=anchor)

        anchor, anchors_hat, scales, means = self._passes(hyper, decode_anchors)
        rest = self.entropy_y.decompress(decoder, scales, means, mask=~anchor)
        return torch.where(anchor, anchors_hat, rest)


_SIZES = {q: {"N": 128, "M": 192} if q <= 4 else {"N": 192, "M": 320} for q in range(1, 9)}

register_family("he2021-checkerboard", Checkerboard, _SIZES)
