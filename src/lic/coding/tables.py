"""Probability tables for the entropy coder.

A `TableSet` holds T discrete distributions. Table t codes the integers
offsets[t] … offsets[t] + lengths[t] − 1 with probabilities pmfs[t, :lengths[t]], and keeps one
more entry, pmfs[t, lengths[t]], for the escape symbol: the probability mass of both tails.
A value outside the table's support is coded as the escape symbol followed by the value itself
in a bypass code (see `lic.coding.rangecoder`), so nothing is ever clipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import constriction
import numpy as np


@dataclass
class TableSet:
    """T integer distributions, each with an escape entry (see module docstring)."""

    pmfs: np.ndarray  # float64 [T, max_length + 1]
    lengths: np.ndarray  # int64 [T]
    offsets: np.ndarray  # int64 [T]
    _models: dict[int, object] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.pmfs = np.ascontiguousarray(self.pmfs, dtype=np.float64)
        self.lengths = np.asarray(self.lengths, dtype=np.int64)
        self.offsets = np.asarray(self.offsets, dtype=np.int64)
        if self.pmfs.ndim != 2 or len(self.lengths) != len(self.pmfs) != len(self.offsets):
            raise ValueError("pmfs, lengths and offsets must describe the same number of tables")
        if np.any(self.lengths < 1) or np.any(self.lengths >= self.pmfs.shape[1]):
            raise ValueError("each table needs 1 ≤ length < pmfs.shape[1] (room for the escape)")

    def __len__(self) -> int:
        return len(self.lengths)

    def cdf(self, t: int) -> np.ndarray:
        """Cumulative distribution of table t, escape included (monotone by construction)."""
        return np.concatenate([[0.0], np.cumsum(self.pmfs[t, : self.lengths[t] + 1])])

    def model(self, t: int):
        """The constriction categorical model of table t (built once, then cached)."""
        model = self._models.get(t)
        if model is None:
            pmf = self.pmfs[t, : self.lengths[t] + 1]
            model = constriction.stream.model.Categorical(pmf, perfect=False)
            self._models[t] = model
        return model


def pmf_with_tail(pmf: np.ndarray, max_length: int) -> tuple[np.ndarray, int]:
    """Append the tail (escape) mass 1 − Σ pmf to `pmf` and pad to max_length + 1 entries."""
    pmf = np.clip(np.asarray(pmf, dtype=np.float64), 0.0, None)
    tail = max(1.0 - pmf.sum(), 0.0)
    row = np.zeros(max_length + 1)
    row[: len(pmf)] = pmf
    row[len(pmf)] = tail
    return row, len(pmf)
