"""The fully factorized density of Ballé et al. 2018, appendix 6.1.

Each channel c has a non-parametric cumulative c(x) = f_K ∘ … ∘ f_1 (x), built from
  f_k(x) = g_k(H^(k) x + b^(k)),  g_k(x) = x + a^(k) ⊙ tanh(x)  (k < K),  g_K = sigmoid,
with H^(k) = softplus(Ĥ^(k)) ≥ 0 and a^(k) = tanh(â^(k)) > −1, so c is monotone. Convolved with a
unit uniform, the likelihood of a (noisy) latent is c(x + ½) − c(x − ½) (eq. 25 of appendix 6.1).

Three quantiles per channel (the tail_mass/2 and 1 − tail_mass/2 points and the median) are
learned by the auxiliary loss; the median centres rounding and the outer two bound the coder
tables, whose tails go to the escape symbol.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lic.coding import Decoder, Encoder, TableSet, pmf_with_tail
from lic.entropy.base import EntropyModel


class FactorizedDensity(EntropyModel):
    """Per-channel factorized prior p(z_c) for latents of shape [B, C, H, W]."""

    def __init__(
        self,
        channels: int,
        filters: tuple[int, ...] = (3, 3, 3),
        init_scale: float = 10.0,
        tail_mass: float = 1e-9,
    ) -> None:
        super().__init__()
        self.channels = channels
        self.tail_mass = tail_mass
        widths = (1, *filters, 1)
        scale = init_scale ** (1 / (len(widths) - 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for k in range(len(widths) - 1):
            init = math.log(math.expm1(1 / scale / widths[k + 1]))
            self.matrices.append(
                nn.Parameter(torch.full((channels, widths[k + 1], widths[k]), init))
            )
            self.biases.append(
                nn.Parameter(torch.empty(channels, widths[k + 1], 1).uniform_(-0.5, 0.5))
            )
            if k < len(widths) - 2:
                self.factors.append(nn.Parameter(torch.zeros(channels, widths[k + 1], 1)))
        self.quantiles = nn.Parameter(
            torch.tensor([-init_scale, 0.0, init_scale]).repeat(channels, 1, 1)
        )
        target = math.log(2 / tail_mass - 1)
        self.register_buffer("target", torch.tensor([-target, 0.0, target]), persistent=False)

    def logits_cumulative(self, x: torch.Tensor, detach: bool = False) -> torch.Tensor:
        """The cumulative before the final sigmoid, for x of shape [C, 1, N], in x's dtype.

        `detach` stops gradients into the density (the auxiliary loss moves only the quantiles).
        """
        with torch.autocast(x.device.type, enabled=False):
            for k, (matrix, bias) in enumerate(zip(self.matrices, self.biases)):
                matrix, bias = (matrix.detach(), bias.detach()) if detach else (matrix, bias)
                x = torch.matmul(F.softplus(matrix.to(x.dtype)), x) + bias.to(x.dtype)
                if k < len(self.factors):
                    factor = self.factors[k].detach() if detach else self.factors[k]
                    x = x + torch.tanh(factor.to(x.dtype)) * torch.tanh(x)
        return x

    def _likelihood(self, values: torch.Tensor) -> torch.Tensor:
        """c(v + ½) − c(v − ½) for values of shape [C, 1, N], stable in both tails."""
        lower = self.logits_cumulative(values - 0.5)
        upper = self.logits_cumulative(values + 0.5)
        # Subtract in whichever tail the sigmoid is far from saturating.
        sign = -torch.sign(lower + upper).detach()
        return torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))

    @property
    def medians(self) -> torch.Tensor:
        return self.quantiles[:, 0, 1].detach()

    def aux_loss(self) -> torch.Tensor:
        """Σ |logits(quantiles) − target|: fits the quantiles without touching the density."""
        logits = self.logits_cumulative(self.quantiles, detach=True)
        return torch.abs(logits - self.target).sum()

    def forward(
        self, z: torch.Tensor, noisy: bool | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Quantize z (noise in training) and return (ẑ, likelihood of ẑ), both [B, C, H, W]."""
        noisy = self.training if noisy is None else noisy
        medians = self.medians.reshape(1, -1, 1, 1)
        z = z.float()
        z_hat = self.quantize(z, noisy, medians)
        values = z_hat.transpose(0, 1).reshape(self.channels, 1, -1)
        likelihood = (
            self._likelihood(values)
            .reshape(z_hat.shape[1], z_hat.shape[0], *z_hat.shape[2:])
            .transpose(0, 1)
        )
        likelihood = self.lower_bound_likelihood(likelihood)
        return self.synthesis_input(z, z_hat, medians, noisy), likelihood

    def build_tables(self) -> TableSet:
        quantiles = self.quantiles.detach().double()[:, 0, :]
        medians = quantiles[:, 1]
        below = torch.ceil(medians - quantiles[:, 0]).clamp(min=0).long()
        above = torch.ceil(quantiles[:, 2] - medians).clamp(min=0).long()
        lengths = (below + above + 1).tolist()
        width = max(lengths)
        support = torch.arange(width, dtype=torch.float64).repeat(self.channels, 1)
        values = (support - below[:, None] + medians[:, None]).unsqueeze(1)
        pmfs = self._likelihood(values)[:, 0, :].numpy()
        rows = [pmf_with_tail(pmfs[c, : lengths[c]], width)[0] for c in range(self.channels)]
        return TableSet(np.stack(rows), lengths, (-below).numpy())

    def symbols(self, z: torch.Tensor) -> np.ndarray:
        """Integers to code: round(z − median)."""
        return torch.round(z.float() - self.medians.reshape(1, -1, 1, 1)).long().numpy()

    def dequantize(self, symbols: np.ndarray) -> torch.Tensor:
        """ẑ = symbols + median."""
        return torch.from_numpy(symbols).float() + self.medians.reshape(1, -1, 1, 1)

    def compress(self, encoder: Encoder, z: torch.Tensor) -> torch.Tensor:
        """Code round(z − median) per channel; returns ẑ.

        Channel c's table is c, so the coder's order (ascending table, raster order within)
        is channel by channel: coded one channel per call, in one channel's memory."""
        symbols = self.symbols(z)
        for c in range(self.channels):
            plane = symbols[:, c]
            encoder.encode(plane, np.full(plane.shape, c), self.tables)
        return self.dequantize(symbols)

    def decompress(self, decoder: Decoder, shape: tuple[int, ...]) -> torch.Tensor:
        """Decode ẑ of shape [1, C, H, W], a channel at a time (as `compress`)."""
        batch, channels, *plane = shape
        symbols = np.empty(shape, dtype=np.int64)
        for c in range(channels):
            symbols[:, c] = decoder.decode(np.full((batch, *plane), c), self.tables)
        return self.dequantize(symbols)
