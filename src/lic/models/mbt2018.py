"""Minnen, Ballé & Toderici 2018, "Joint autoregressive and hierarchical priors for learned
image compression" (NeurIPS): the mean-scale hyperprior, and the joint autoregressive and
hierarchical prior.

The transforms g_a and g_s are those of Ballé et al. 2018. The hyper-analysis takes y itself
(not |y|, since it must now describe means too) and the hyper-synthesis predicts a mean and a
scale for every element of y (figure 4 of the paper):
  h_a: conv3×3 (N), LeakyReLU, conv5×5↓2 (N), LeakyReLU, conv5×5↓2 (N)
  h_s: deconv5×5↑2 (M), LeakyReLU, deconv5×5↑2 (3M/2), LeakyReLU, conv3×3 (2M) → (σ, μ)
y − μ is rounded and coded under N(0, σ²) convolved with a unit uniform (eq. 3 of the paper).

The joint model adds a 5×5 masked convolution over ŷ (mask type A: rows above, and positions to
the left) whose 2M outputs are fused with the hyper output by 1×1 convolutions into (σ, μ).
Training runs it in parallel over the noisy latents (also under "mixed" quantization: the
rounding offsets μ would need the serial loop); coding is sequential in raster order,
each position's context computed from its causal window alone (12 taps: one matrix product),
the entropy-parameter network applied to that one position for all channels at once.
"""

from __future__ import annotations

import torch
from torch import nn

from lic.coding import Decoder, Encoder
from lic.entropy import quantize
from lic.layers import MaskedConv2d, conv, deconv
from lic.models.bmshj2018 import ScaleHyperprior
from lic.models.registry import VARIABLE_RATE_CONFIG_1_TO_8, ModelSpec, register, register_family


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

    def __init__(self, N: int = 128, M: int = 192, rate_points: int = 0) -> None:
        super().__init__(N, M, rate_points)
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

    def hyper_input(self, y: torch.Tensor) -> torch.Tensor:
        return y

    def y_forward(self, y: torch.Tensor, hyper: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scales, means = hyper.chunk(2, 1)
        return self.entropy_y(y, scales, means)

    def y_compress(self, encoder: Encoder, y: torch.Tensor, hyper: torch.Tensor) -> None:
        scales, means = hyper.chunk(2, 1)
        self.entropy_y.compress(encoder, y, scales, means)

    def y_decompress(self, decoder: Decoder, hyper: torch.Tensor) -> torch.Tensor:
        scales, means = hyper.chunk(2, 1)
        return self.entropy_y.decompress(decoder, scales, means)


class JointAutoregressive(MeanScaleHyperprior):
    """mbt2018: mean-scale hyperprior joined with a raster-order autoregressive context."""

    def __init__(self, N: int = 192, M: int = 192, rate_points: int = 0) -> None:
        super().__init__(N, M, rate_points)
        self.context_prediction = MaskedConv2d(M, M * 2, 5, kind="raster")
        self.entropy_parameters = entropy_parameters(M)

    def y_forward(self, y: torch.Tensor, hyper: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.training:  # exactly what is coded: the sequential loop
            y_hat, scales, means = self._serial(hyper, y=y)
            return y_hat, self.entropy_y.likelihood(y_hat, scales, means)
        context = self.context_prediction(quantize(y, True))
        scales, means = self.entropy_parameters(torch.cat([hyper, context], 1)).chunk(2, 1)
        return self.entropy_y(y, scales, means)

    def y_compress(self, encoder: Encoder, y: torch.Tensor, hyper: torch.Tensor) -> None:
        self._serial(hyper, y=y, encoder=encoder)

    def y_decompress(self, decoder: Decoder, hyper: torch.Tensor) -> torch.Tensor:
        return self._serial(hyper, decoder=decoder)[0]

    def _serial(
        self,
        hyper: torch.Tensor,
        y: torch.Tensor | None = None,
        encoder: Encoder | None = None,
        decoder: Decoder | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Visit y in raster order: context from the decoded causal window, then (σ, μ), then
        round (encoder, or the exact forward pass) or decode (decoder) all channels there.
        Returns ŷ, σ and μ, each [1, M, H, W]."""
        k = self.context_prediction.kernel_size[0]
        pad = k // 2
        _, _, height, width = hyper.shape
        taps = self.context_prediction.taps  # the causal positions
        dtype = hyper.dtype  # float64 outside training (coding precision, lic.models.base)
        weight, bias = self.context_prediction.tap_matrix(dtype)  # [2M, M·T], [2M]
        layers = [m for m in self.entropy_parameters if isinstance(m, nn.Conv2d)]
        matrices = [(m.weight[:, :, 0, 0].to(dtype), m.bias.to(dtype)) for m in layers]
        y_hat = torch.zeros(1, self.M, height + 2 * pad, width + 2 * pad, dtype=dtype)
        all_params = torch.zeros(height, width, 2 * self.M, dtype=dtype)
        hyper_rows = hyper[0].permute(1, 2, 0)  # [H, W, 2M]
        for h in range(height):
            for w in range(width):
                window = y_hat[0, :, h : h + k, w : w + k].flatten(1)[:, taps].flatten()
                params = torch.cat([hyper_rows[h, w], torch.addmv(bias, weight, window)])
                for i, (matrix, b) in enumerate(matrices):
                    params = torch.addmv(b, matrix, params)
                    if i < len(matrices) - 1:
                        params = torch.nn.functional.leaky_relu(params)
                all_params[h, w] = params
                scales, means = params[None, :, None, None].chunk(2, 1)
                if decoder is not None:
                    value = self.entropy_y.decompress(decoder, scales, means)
                elif encoder is not None:
                    value = self.entropy_y.compress(
                        encoder, y[:, :, h : h + 1, w : w + 1], scales, means
                    )
                else:
                    value = quantize(y[:, :, h : h + 1, w : w + 1], False, means)
                y_hat[0, :, h + pad, w + pad] = value.flatten()
        scales, means = all_params.permute(2, 0, 1)[None].chunk(2, 1)
        y_hat = y_hat[:, :, pad : pad + height, pad : pad + width].contiguous()
        return y_hat, scales.contiguous(), means.contiguous()


_SIZES = {q: {"N": 128, "M": 192} if q <= 4 else {"N": 192, "M": 320} for q in range(1, 9)}

register_family("mbt2018-mean", MeanScaleHyperprior, _SIZES, VARIABLE_RATE_CONFIG_1_TO_8)
register(
    ModelSpec(
        "mbt2018",
        JointAutoregressive,
        {q: {"N": 192, "M": 192} if q <= 4 else {"N": 192, "M": 320} for q in range(1, 9)},
    )
)
