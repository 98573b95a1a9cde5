"""Categorical distributions over a few symbols, coded per symbol identically on every machine.

A categorical over the symbols 0 … L − 1 is given by logits l ∈ ℝ^L: p_j = exp(l_j) / Σ_k exp(l_k).
Coding turns a row of float64 logits into an integer row of the per-symbol seam
(`lic.coding.persymbol`, L + 1 entries, the last the escape) by three steps:
- the logits are snapped to multiples of `LOGIT_STEP` = 2⁻⁸, so l − max l is exact;
- exp by exactly rounded operations only (`lic.entropy.mixture`'s, no libm), of l − max l ≤ 0,
  unnormalized: `quantize_pmfs` rescales each row in integer arithmetic, so no float sum (whose
  order a vectorized reduction may change) decides anything;
- `quantize_pmfs`, the escape given probability 0 (frequency 1): the symbols never leave
  0 … L − 1, the escape only completes the coder's row.
Logits that another machine computes ~1e-15 differently (another convolution backend, another
summation order) land on the same grid points unless one lies that close to a grid boundary
(~1e-12 of the logits); unsnapped, every entry's ⌊p·2²⁴⌋ would be such a boundary. The grid
moves each probability by a factor of at most e^(2⁻⁸): ≲ 3e-6 bit a symbol.

`MarkovCategorical` codes a 2D map of small integers with such rows: each symbol under a learned
categorical given the symbol above it (a first-order Markov chain down every column), decoded a
row at a time.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lic.coding import Decoder, Encoder, TableSet
from lic.coding.persymbol import PRECISION, quantize_pmfs
from lic.entropy.base import EntropyModel
from lic.entropy.mixture import _exp
from lic.errors import LicError

#: Grid of the logits on the coding path (module docstring).
LOGIT_STEP = 2.0**-8
#: exp(l − max l) is taken at −EXP_FLOOR at least (the domain of the exact exp); below, p < 1e-30
#: is far under 2⁻²⁴ and gets frequency 1 either way.
EXP_FLOOR = 70.0


def categorical_rows(logits: np.ndarray) -> np.ndarray:
    """Integer rows [n, L + 1] (the seam's: each entry ≥ 1, summing to 2**PRECISION, the last
    the escape) of the categoricals with float64 `logits` [n, L], by the rule of the module
    docstring; identical for identical logits on every machine, in any batch."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[1] < 1:
        raise ValueError(f"logits must be [n, L], got {list(logits.shape)}")
    if not np.all(np.isfinite(logits)):
        raise LicError("the context model's logits are not finite")
    steps = np.rint(logits / LOGIT_STEP)
    steps -= steps.max(axis=1, keepdims=True)
    weights = _exp(np.maximum(steps * LOGIT_STEP, -EXP_FLOOR))
    return quantize_pmfs(np.concatenate([weights, np.zeros((len(weights), 1))], axis=1))


def certain_rows(count: int, symbols: int) -> np.ndarray:
    """`count` integer rows under which symbol 0 of 0 … `symbols` − 1 is all but certain
    (2**PRECISION − `symbols` of 2**PRECISION: ~`symbols`·1e-7 bit)."""
    return quantize_pmfs(np.eye(1, symbols + 1)).repeat(count, axis=0)


class MarkovCategorical(EntropyModel):
    """A map [H, W] of symbols 0 … S − 1, each under a categorical given the symbol above it.

    p(n_ij | n_(i−1)j) = softmax(Λ[n_(i−1)j])[n_ij], Λ a learned table of logits [S + 1, S]
    whose last row is the context of the first row (nothing above). Trained by its own
    cross-entropy; coded a row at a time (each row's contexts are the row decoded before it).

    Args:
        symbols: S, the size of the alphabet.
    """

    def __init__(self, symbols: int) -> None:
        super().__init__()
        if symbols < 2:
            raise ValueError(f"a categorical needs at least 2 symbols, got {symbols}")
        self.symbols = symbols
        self.logits = nn.Parameter(torch.zeros(symbols + 1, symbols))

    def contexts(self, symbols: torch.Tensor) -> torch.Tensor:
        """The context (row of Λ) of every symbol of maps [B, H, W]: the symbol above, S on
        the first row."""
        return torch.cat([torch.full_like(symbols[:, :1], self.symbols), symbols[:, :-1]], 1)

    def likelihood(self, symbols: torch.Tensor, frozen: bool = False) -> torch.Tensor:
        """p(n) of every symbol of maps [B, H, W] (long), float32 (float64 outside training);
        `frozen`: Λ detached (the rate as the encoder sees it, which trains Λ not)."""
        logits = self.logits.detach() if frozen else self.logits
        logits = logits if self.training else logits.double()
        with torch.autocast(logits.device.type, enabled=False):
            log_p = torch.log_softmax(logits, dim=1)[self.contexts(symbols), symbols]
        return self.lower_bound_likelihood(log_p.exp())

    def coder_constants(self) -> str:
        return (
            f"{type(self).__name__}: {self.symbols} symbols, logit step {LOGIT_STEP!r}, "
            f"exp floor {EXP_FLOOR!r}, precision {PRECISION}"
        )

    def build_tables(self) -> TableSet:
        """None to build: the rows are `rows`, computed as coding needs them."""
        return TableSet(np.zeros((0, 2)), np.zeros(0), np.zeros(0))

    def rows(self) -> np.ndarray:
        """The integer row of every context [S + 1, S + 1]."""
        return categorical_rows(self.logits.detach().double().cpu().numpy())

    @torch.no_grad()
    def compress(self, encoder: Encoder, symbols: torch.Tensor) -> None:
        """Code a map [H, W] of symbols in 0 … S − 1, in raster order."""
        values = symbols.cpu().numpy().astype(np.int64)
        if values.size and (values.min() < 0 or values.max() >= self.symbols):
            raise ValueError(f"symbols must lie in 0 … {self.symbols - 1}")
        contexts = self.contexts(symbols[None]).cpu().numpy()[0]
        offsets = np.zeros(values.size, dtype=np.int64)
        encoder.encode_per_symbol(values.ravel(), self.rows()[contexts.ravel()], offsets)

    @torch.no_grad()
    def decompress(self, decoder: Decoder, shape: tuple[int, int]) -> torch.Tensor:
        """The map [H, W] (long) coded by `compress`, a row at a time."""
        height, width = shape
        rows = self.rows()
        values = np.zeros((height, width), dtype=np.int64)
        above = np.full(width, self.symbols)
        for i in range(height):
            values[i] = decoder.decode_per_symbol(rows[above], np.zeros(width, dtype=np.int64))
            if values[i].min(initial=0) < 0 or values[i].max(initial=0) >= self.symbols:
                raise LicError("corrupted stream: a symbol outside its alphabet")
            above = values[i]
        return torch.from_numpy(values)
