"""He, Zheng, Sun, Wang & Qin 2021, "Checkerboard context model for efficient learned image
compression" (CVPR).

The latents are split in two checkerboard phases. Anchors ((h + w) even) are coded with the
mean-scale hyperprior alone; non-anchors also see a context computed from the decoded anchors
by a 5×5 checkerboard-masked convolution (sec. 3.2). Entropy parameters come from 1×1
convolutions over [hyper output, context] as in Minnen et al. 2018 (fig. 4), with the context
set to zero at the anchors (eq. 6). Decoding is two parallel passes, not H·W serial steps.
"""

from __future__ import annotations

import torch

from lic.coding import Decoder, Encoder
from lic.entropy import quantize
from lic.layers import MaskedConv2d, checkerboard
from lic.models.mbt2018 import MeanScaleHyperprior, entropy_parameters
from lic.models.registry import VARIABLE_RATE_CONFIG_1_TO_8, register_family


class Checkerboard(MeanScaleHyperprior):
    """he2021-checkerboard: two-pass checkerboard context on a mean-scale hyperprior."""

    def __init__(self, N: int = 128, M: int = 192, rate_points: int = 0) -> None:
        super().__init__(N, M, rate_points)
        self.context_prediction = MaskedConv2d(M, M * 2, 5, kind="checkerboard")
        self.entropy_parameters = entropy_parameters(M)

    def _params(
        self, hyper: torch.Tensor, context: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        scales, means = self.entropy_parameters(torch.cat([hyper, context], 1)).chunk(2, 1)
        return scales, means

    def _context(self, anchors_hat: torch.Tensor, non_anchor: torch.Tensor) -> torch.Tensor:
        """The context of the non-anchors from the anchors alone; zero at the anchors.

        Training convolves densely; otherwise only the non-anchors are computed, from the
        mask's taps (all anchors: odd distances), a quarter of the dense work."""
        dtype = anchors_hat.dtype
        if self.training:
            anchor = ~non_anchor
            return self.context_prediction(anchors_hat * anchor.to(dtype)) * non_anchor.to(dtype)
        batch, _, height, width = anchors_hat.shape
        positions = non_anchor.flatten().nonzero().squeeze(1)
        context = anchors_hat.new_zeros(batch, self.M * 2, height * width)
        context[:, :, positions] = self.context_prediction.at(anchors_hat, positions)
        return context.view(batch, self.M * 2, height, width)

    def parameters_of(
        self, y_hat: torch.Tensor, hyper: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(σ, μ) of every element given the anchors of ŷ (what both passes compute)."""
        non_anchor = checkerboard(*y_hat.shape[2:], anchor=False).to(y_hat.device)
        return self._params(hyper, self._context(y_hat, non_anchor))

    def y_forward(self, y: torch.Tensor, hyper: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training:  # one pass: the anchors' context is zero whatever ŷ is fed in
            anchors_hat = quantize(y, True)
        else:  # the anchors exactly as coded: rounded around their hyperprior-only means
            _, means = self._params(hyper, torch.zeros_like(hyper))
            anchors_hat = quantize(y, False, means)
        scales, means = self.parameters_of(anchors_hat, hyper)
        return self.entropy_y(y, scales, means)

    def y_compress(self, encoder: Encoder, y: torch.Tensor, hyper: torch.Tensor) -> None:
        anchor = checkerboard(*y.shape[2:], anchor=True)
        scales, means = self._params(hyper, torch.zeros_like(hyper))
        anchors_hat = self.entropy_y.compress(encoder, y, scales, means, mask=anchor)
        scales, means = self.parameters_of(anchors_hat, hyper)
        self.entropy_y.compress(encoder, y, scales, means, mask=~anchor)

    def y_decompress(self, decoder: Decoder, hyper: torch.Tensor) -> torch.Tensor:
        anchor = checkerboard(*hyper.shape[2:], anchor=True)
        scales, means = self._params(hyper, torch.zeros_like(hyper))
        anchors_hat = self.entropy_y.decompress(decoder, scales, means, mask=anchor)
        scales, means = self.parameters_of(anchors_hat, hyper)
        rest = self.entropy_y.decompress(decoder, scales, means, mask=~anchor)
        return torch.where(anchor, anchors_hat, rest)


_SIZES = {q: {"N": 128, "M": 192} if q <= 4 else {"N": 192, "M": 320} for q in range(1, 9)}

register_family("he2021-checkerboard", Checkerboard, _SIZES, VARIABLE_RATE_CONFIG_1_TO_8)
