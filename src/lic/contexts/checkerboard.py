"""The checkerboard context (He, Zheng, Sun, Wang & Qin 2021, "Checkerboard context model for
efficient learned image compression", CVPR).

The latents are split in two checkerboard phases. Anchors ((h + w) even) are coded from ψ alone;
non-anchors also see a context computed from the decoded anchors by a 5×5 checkerboard-masked
convolution (sec. 3.2). The entropy parameters come from 1×1 convolutions over [ψ, context] as in
Minnen et al. 2018 (fig. 4), with the context set to zero at the anchors (eq. 6). Decoding is
two parallel passes, not H·W serial steps. ELIC (He et al. 2022) runs one inside each channel
group, ψ then carrying the group's channel context too (`lic.contexts.channels`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from lic.coding import Decoder, Encoder
from lic.contexts.base import MaskedContext
from lic.entropy import GaussianConditional, quantize
from lic.layers import checkerboard

#: Positions whose entropy parameters are computed at once in coding (~75 MB in float64 for
#: the default model); a coding tile has fewer, a format-version-2 file's whole grid more.
POSITIONS = 8192


class Checkerboard(MaskedContext):
    """Two-pass checkerboard context over `channels` latents (arguments: `MaskedContext`;
    the entropy parameters must be 1×1 convolutions, computed where each pass codes)."""

    kind = "checkerboard"

    def __init__(
        self,
        channels: int,
        entropy_parameters: nn.Sequential,
        entropy: GaussianConditional | None = None,
    ) -> None:
        if any(isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1) for m in entropy_parameters):
            raise ValueError("the checkerboard's entropy parameters must be 1×1 convolutions")
        super().__init__(channels, entropy_parameters, entropy)

    def _params(self, psi: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """The entropy parameters everywhere from [ψ, context] (dense: training)."""
        return self.entropy_parameters(torch.cat([psi, context], 1))

    def _fill_params(
        self,
        grid: torch.Tensor,
        psi: torch.Tensor,
        anchors_hat: torch.Tensor | None,
        phase: torch.Tensor,
    ) -> None:
        """Write the entropy parameters at the positions of `phase` [1, 1, H, W] alone into
        `grid` [B, P·C, H·W] (P per latent: σ and μ for the Gaussian conditional).

        The entropy parameters are 1×1 convolutions: each position's come from its own features,
        so coding computes them only where a pass codes (half the grid each), as [B, C, P, 1]
        columns, `POSITIONS` at a time. The context comes from the decoded `anchors_hat` through
        the masked convolution's taps, or is zero at the anchors themselves (`anchors_hat`
        None, eq. 6)."""
        features = psi.flatten(2)
        for positions in phase.flatten().nonzero().squeeze(1).split(POSITIONS):
            psi_at = features[:, :, positions]
            if anchors_hat is None:
                context = psi_at.new_zeros(psi_at.shape[0], self.channels * 2, len(positions))
            else:
                context = self.context_prediction.at(anchors_hat, positions)
            params = self.entropy_parameters(torch.cat([psi_at, context], 1)[..., None])
            grid[:, :, positions] = params[..., 0]

    @torch.no_grad()
    def _passes(
        self,
        psi: torch.Tensor,
        decoded_anchors: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The two passes shared by coding and the eval forward: the entropy parameters of the
        anchors from ψ alone, ŷ of the anchors from `decoded_anchors(parameters, anchor mask)`,
        then the parameters of the non-anchors from them through the masked context, evaluated
        at the non-anchors alone. Returns the anchor mask, ŷ of the anchors, and the
        parameters of both phases together."""
        batch, _, height, width = psi.shape
        anchor = checkerboard(height, width, anchor=True).to(psi.device)
        count = self.channels * self.entropy.parameters_per_latent
        grid = psi.new_zeros(batch, count, height * width)
        params = grid.view(batch, count, height, width)
        self._fill_params(grid, psi, None, anchor)
        anchors_hat = decoded_anchors(params, anchor)
        self._fill_params(grid, psi, anchors_hat, ~anchor)
        return anchor, anchors_hat, params

    def forward(self, y: torch.Tensor, psi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training:  # one dense pass: the anchors' context is zero whatever ŷ is fed in
            if self.entropy.rounds_in_training:  # the anchors as coded, around their own μ
                zeros = psi.new_zeros(psi.shape[0], self.channels * 2, *psi.shape[2:])
                offset = self.entropy.offset(self._params(psi, zeros))
                anchors_hat = self.entropy.rounded(y.float(), offset.float())
            else:
                anchors_hat = quantize(y, True)
            anchor = checkerboard(*y.shape[2:], anchor=True).to(y.device, y.dtype)
            context = self.context_prediction(anchors_hat * anchor) * (1 - anchor)
            return self.entropy(y, *self.entropy.split(self._params(psi, context)))
        # The anchors exactly as coded: rounded around their ψ-only offsets (μ).
        _, _, params = self._passes(
            psi, lambda params, _: quantize(y, False, self.entropy.offset(params))
        )
        return self.entropy(y, *self.entropy.split(params))

    def compress(self, encoder: Encoder, y: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
        def code_anchors(params: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
            return self.entropy.compress(encoder, y, *self.entropy.split(params), mask=anchor)

        anchor, anchors_hat, params = self._passes(psi, code_anchors)
        rest = self.entropy.compress(encoder, y, *self.entropy.split(params), mask=~anchor)
        return torch.where(anchor, anchors_hat, rest)

    def decompress(self, decoder: Decoder, psi: torch.Tensor) -> torch.Tensor:
        def decode_anchors(params: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
            return self.entropy.decompress(decoder, *self.entropy.split(params), mask=anchor)

        anchor, anchors_hat, params = self._passes(psi, decode_anchors)
        rest = self.entropy.decompress(decoder, *self.entropy.split(params), mask=~anchor)
        return torch.where(anchor, anchors_hat, rest)
