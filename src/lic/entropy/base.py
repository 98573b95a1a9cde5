"""What every entropy model shares: noisy/rounded quantization and coder tables kept fresh.

Training replaces rounding by additive uniform noise U(−½, ½) (Ballé et al. 2017, sec. 2.3), so
the likelihood of the noisy latent is the density convolved with a unit box; at test time the
latent is rounded, around a per-element offset (the median, or the predicted mean).
"""

from __future__ import annotations

import torch
from torch import nn

from lic.coding import TableSet
from lic.layers import lower_bound


def quantize(x: torch.Tensor, noisy: bool, offset: torch.Tensor | float = 0.0) -> torch.Tensor:
    """x + U(−½, ½) when `noisy` (training), else round(x − offset) + offset (NCHW layout)."""
    if noisy:
        return x + torch.empty_like(x).uniform_(-0.5, 0.5)
    # Contiguous like the decoder's ŷ: a convolution may round differently on another layout.
    return (torch.round(x - offset) + offset).contiguous()


class EntropyModel(nn.Module):
    """An entropy model with coder tables built from its parameters.

    The tables are rebuilt automatically whenever a parameter changed since they were last
    built (tracked by the tensors' in-place version counters), so `compress` can never use stale
    tables; `update()` forces a rebuild.
    """

    likelihood_bound = 1e-9

    def __init__(self) -> None:
        super().__init__()
        self._tables: TableSet | None = None
        self._tables_version: tuple[int, ...] | None = None

    def _parameter_versions(self) -> tuple[int, ...]:
        return tuple(p._version for p in self.parameters()) + tuple(
            id(p) for p in self.parameters()
        )

    def build_tables(self) -> TableSet:  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self) -> TableSet:
        """Rebuild the coder tables from the current parameters."""
        with torch.no_grad():
            self._tables = self.build_tables()
        self._tables_version = self._parameter_versions()
        return self._tables

    @property
    def tables(self) -> TableSet:
        """Coder tables matching the current parameters."""
        if self._tables is None or self._tables_version != self._parameter_versions():
            return self.update()
        return self._tables

    def lower_bound_likelihood(self, likelihood: torch.Tensor) -> torch.Tensor:
        """Keep −log₂ p finite in training; the gradient still flows above the bound."""
        return lower_bound(likelihood, self.likelihood_bound)
