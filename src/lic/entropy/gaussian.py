"""The Gaussian conditional: each latent is a Gaussian N(μ, σ²) convolved with a unit uniform.

Ballé et al. 2018, eq. 9 (zero mean, σ from the hyperprior) and Minnen et al. 2018 (μ and σ):
  p(ŷ | μ, σ) = Φ((ŷ − μ + ½)/σ) − Φ((ŷ − μ − ½)/σ),
computed as Φ((½ − |v|)/σ) − Φ((−½ − |v|)/σ) with v = ŷ − μ, which is exact in both tails.
σ is bounded below by `scale_bound` and the likelihood by 1e-9.

For coding, σ is rounded up to the next entry of a log-spaced `scale_table`; each entry has a
table over the integers ±⌈σ·Φ⁻¹(1 − tail_mass/2)⌉ whose tails go to the escape symbol. The
symbol coded is round(y − μ), so means need no tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from lic.coding import Decoder, Encoder, TableSet, pmf_with_tail
from lic.entropy.base import EntropyModel
from lic.layers import lower_bound


def default_scale_table(low: float = 0.11, high: float = 256.0, levels: int = 128) -> list[float]:
    """Log-spaced scales: consecutive σ differ by (high/low)^(1/(levels−1)), ~6% for 128."""
    return np.exp(np.linspace(math.log(low), math.log(high), levels)).tolist()


def _std_normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.erfc(-x / math.sqrt(2))


class GaussianConditional(EntropyModel):
    """Conditional Gaussian entropy model with a discrete scale table for coding."""

    def __init__(
        self,
        scale_table: Sequence[float] | None = None,
        scale_bound: float = 0.11,
        tail_mass: float = 1e-9,
    ) -> None:
        super().__init__()
        table = default_scale_table() if scale_table is None else list(scale_table)
        if not table or any(b <= a for a, b in zip(table, table[1:])) or table[0] <= 0:
            raise ValueError("scale_table must be positive and strictly increasing")
        self.scale_bound = scale_bound
        self.tail_mass = tail_mass
        self.register_buffer(
            "scale_table", torch.tensor(table, dtype=torch.float64), persistent=False
        )

    #: Entropy parameters per latent a context model predicts for this model: σ and μ.
    parameters_per_latent = 2

    @staticmethod
    def split(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(σ, μ) from a context's entropy parameters, [B, 2C, …] stacked along channels."""
        return params.chunk(2, 1)

    @staticmethod
    def offset(params: torch.Tensor) -> torch.Tensor:
        """What y is rounded around: μ (the symbol coded is round(y − μ))."""
        return params.chunk(2, 1)[1]

    def likelihood(
        self, y_hat: torch.Tensor, scales: torch.Tensor, means: torch.Tensor | None = None
    ) -> torch.Tensor:
        """p(ŷ | μ, σ) of eq. 9 (Ballé 2018) / eq. 3 (Minnen 2018), in float32."""
        with torch.autocast(y_hat.device.type, enabled=False):
            values = torch.abs((y_hat if means is None else y_hat - means).float())
            scales = lower_bound(scales.float(), self.scale_bound)
            upper = _std_normal_cdf((0.5 - values) / scales)
            lower = _std_normal_cdf((-0.5 - values) / scales)
            return self.lower_bound_likelihood(upper - lower)

    def forward(
        self,
        y: torch.Tensor,
        scales: torch.Tensor,
        means: torch.Tensor | None = None,
        noisy: bool | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Quantize y (noise in training) and return (ŷ, p(ŷ | μ, σ))."""
        noisy = self.training if noisy is None else noisy
        y = y.float()
        offset = 0.0 if means is None else means
        y_hat = self.quantize(y, noisy, offset)
        likelihood = self.likelihood(y_hat, scales, means)
        return self.synthesis_input(y, y_hat, offset, noisy), likelihood

    def coder_constants(self) -> str:
        table = ",".join(f"{v:.12g}" for v in self.scale_table.tolist())
        return (
            f"{type(self).__name__}: scale bound {self.scale_bound!r}, "
            f"tail mass {self.tail_mass!r}, scale table {table}"
        )

    def build_tables(self) -> TableSet:
        scales = self.scale_table.cpu()
        quantile = -torch.special.ndtri(torch.tensor(self.tail_mass / 2, dtype=torch.float64))
        halves = torch.ceil(scales * quantile).long()
        width = int(2 * halves.max() + 1)
        rows, lengths = [], []
        for scale, half in zip(scales, halves.tolist()):
            k = torch.arange(-half, half + 1, dtype=torch.float64)
            pmf = _std_normal_cdf((k + 0.5) / scale) - _std_normal_cdf((k - 0.5) / scale)
            row, length = pmf_with_tail(pmf.numpy(), width)
            rows.append(row)
            lengths.append(length)
        return TableSet(np.stack(rows), lengths, (-halves).numpy())

    def indices(self, scales: torch.Tensor) -> np.ndarray:
        """Index of the smallest table scale ≥ σ (σ rounded up: never under-dispersed)."""
        scales = scales.detach().double().clamp(min=self.scale_bound).cpu().numpy()
        table = self.scale_table.cpu().numpy()
        return np.minimum(np.searchsorted(table, scales, side="left"), len(table) - 1)

    def symbols(self, y: torch.Tensor, means: torch.Tensor | None = None) -> np.ndarray:
        """Integers to code: round(y − μ), the difference taken in μ's precision."""
        centred = y.float() if means is None else y.to(means.dtype) - means
        return torch.round(centred).long().numpy()

    def dequantize(self, symbols: np.ndarray, means: torch.Tensor | None = None) -> torch.Tensor:
        """ŷ = symbols + μ, in μ's precision (float32 without means)."""
        dtype = torch.float32 if means is None else means.dtype
        y_hat = torch.from_numpy(np.ascontiguousarray(symbols)).to(dtype)
        return y_hat if means is None else y_hat + means

    def compress(
        self,
        encoder: Encoder,
        y: torch.Tensor,
        scales: torch.Tensor,
        means: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Code round(y − μ) under σ (only where `mask` is true, in raster order); returns ŷ."""
        symbols, indices = self.symbols(y, means), self.indices(scales)
        if mask is None:
            encoder.encode(symbols, indices, self.tables)
        else:
            keep = np.broadcast_to(mask.numpy(), symbols.shape)
            encoder.encode(symbols[keep], indices[keep], self.tables)
        return self.dequantize(symbols, means)

    def decompress(
        self,
        decoder: Decoder,
        scales: torch.Tensor,
        means: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Decode ŷ of the shape of `scales` (zeros outside `mask`)."""
        indices = self.indices(scales)
        if mask is None:
            return self.dequantize(decoder.decode(indices, self.tables), means)
        keep = np.broadcast_to(mask.numpy(), indices.shape)
        symbols = np.zeros(indices.shape, dtype=np.int64)
        symbols[keep] = decoder.decode(indices[keep], self.tables)
        y_hat = self.dequantize(symbols, means)
        return torch.where(torch.from_numpy(keep.copy()), y_hat, torch.zeros(()))
