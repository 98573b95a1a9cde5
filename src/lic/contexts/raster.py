"""The raster-order autoregressive context (Minnen, Ballé & Toderici 2018, "Joint autoregressive
and hierarchical priors for learned image compression", NeurIPS, sec. 3 and fig. 4).

A 5×5 masked convolution over ŷ (mask type A: the rows above, and the positions to the left)
gives 2M context features, fused with ψ by 1×1 convolutions into (σ, μ). Training runs it in
parallel over the noisy latents (also under "mixed" quantization: the rounding offsets μ would
need the serial loop); coding is sequential in raster order, each position's context computed
from its causal window alone (12 taps: one matrix product), the entropy-parameter network
applied to that one position for all channels at once. One loop serves the encoder, the
decoder and the exact eval forward.
"""

from __future__ import annotations

import torch
from torch import nn

from lic.coding import Decoder, Encoder
from lic.contexts.base import MaskedContext
from lic.entropy import GaussianConditional, quantize


class Raster(MaskedContext):
    """Serial raster-order context over `channels` latents (arguments: `MaskedContext`; the
    entropy parameters must be 1×1 convolutions with LeakyReLU between, which the serial loop
    applies as matrices)."""

    anneals = False  # training feeds the masked convolution noisy latents, whatever the rounding

    kind = "raster"

    def __init__(
        self,
        channels: int,
        entropy_parameters: nn.Sequential,
        entropy: GaussianConditional | None = None,
    ) -> None:
        if not all(isinstance(m, nn.Conv2d | nn.LeakyReLU) for m in entropy_parameters):
            raise ValueError("the serial loop applies 1×1 convolutions with LeakyReLU between")
        super().__init__(channels, entropy_parameters, entropy)

    def forward(self, y: torch.Tensor, psi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.training:  # exactly what is coded: the sequential loop
            y_hat, params = self.serial(psi, y=y)
            return y_hat, self.entropy.likelihood(y_hat, *self.entropy.split(params))
        context = self.context_prediction(quantize(y, True))
        params = self.entropy_parameters(torch.cat([psi, context], 1))
        return self.entropy(y, *self.entropy.split(params))

    def compress(self, encoder: Encoder, y: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
        return self.serial(psi, y=y, encoder=encoder)[0]

    def decompress(self, decoder: Decoder, psi: torch.Tensor) -> torch.Tensor:
        return self.serial(psi, decoder=decoder)[0]

    @torch.no_grad()
    def serial(
        self,
        psi: torch.Tensor,
        y: torch.Tensor | None = None,
        encoder: Encoder | None = None,
        decoder: Decoder | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Visit y in raster order: context from the decoded causal window, then the entropy
        parameters (σ, μ for the Gaussian conditional), then round (encoder, or the exact
        forward pass) or decode (decoder) all channels there. Returns ŷ [1, C, H, W] and the
        parameters [1, P·C, H, W]."""
        k = self.context_prediction.kernel_size[0]
        pad = k // 2
        _, _, height, width = psi.shape
        taps = self.context_prediction.taps  # the causal positions
        dtype = psi.dtype  # float64 outside training (coding precision, lic.models.base)
        weight, bias = self.context_prediction.tap_matrix(dtype)  # [2C, C·T], [2C]
        layers = [m for m in self.entropy_parameters if isinstance(m, nn.Conv2d)]
        matrices = [(m.weight[:, :, 0, 0].to(dtype), m.bias.to(dtype)) for m in layers]
        y_hat = torch.zeros(1, self.channels, height + 2 * pad, width + 2 * pad, dtype=dtype)
        count = self.entropy.parameters_per_latent * self.channels
        all_params = torch.zeros(height, width, count, dtype=dtype)
        psi_rows = psi[0].permute(1, 2, 0)  # [H, W, P]
        for h in range(height):
            for w in range(width):
                window = y_hat[0, :, h : h + k, w : w + k].flatten(1)[:, taps].flatten()
                params = torch.cat([psi_rows[h, w], torch.addmv(bias, weight, window)])
                for i, (matrix, b) in enumerate(matrices):
                    params = torch.addmv(b, matrix, params)
                    if i < len(matrices) - 1:
                        params = torch.nn.functional.leaky_relu(params)
                all_params[h, w] = params
                here = params[None, :, None, None]
                if decoder is not None:
                    value = self.entropy.decompress(decoder, *self.entropy.split(here))
                elif encoder is not None:
                    at = y[:, :, h : h + 1, w : w + 1]
                    value = self.entropy.compress(encoder, at, *self.entropy.split(here))
                else:
                    at = y[:, :, h : h + 1, w : w + 1]
                    value = quantize(at, False, self.entropy.offset(here))
                y_hat[0, :, h + pad, w + pad] = value.flatten()
        params = all_params.permute(2, 0, 1)[None].contiguous()
        y_hat = y_hat[:, :, pad : pad + height, pad : pad + width].contiguous()
        return y_hat, params
