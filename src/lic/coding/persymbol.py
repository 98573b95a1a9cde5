"""Per-symbol distributions: probabilities to integer frequencies, identically on every machine.

The table coder (`lic.coding.tables`) shares a few distributions among many symbols. Models that
give every symbol its own distribution (a Gaussian mixture per latent, a learned categorical
context) code each symbol under its own integer row instead: `Encoder.encode_per_symbol` and
`Decoder.decode_per_symbol` take one row per symbol.

A row is L + 1 integer frequencies f_0 … f_L, each ≥ 1, summing to exactly 2^`PRECISION`: the
first L code the values offset … offset + L − 1, the last is the escape symbol (values outside
go to the bypass code, as in the table coder, so nothing is ever clipped). Symbol j costs
−log₂(f_j / 2^PRECISION) bits, and at most PRECISION = 24: the precision of constriction's range
coder, so the rows are the coder's model itself, not an approximation of it.

`quantize_pmfs` turns float64 probability rows into such integer rows:
  q_j = ⌊clip(p_j, 0, 1) · F⌋,  F = 2^PRECISION − (L + 1)  (the weight left after one per entry),
  q_j ← ⌊q_j · F / Σ q⌋ when Σ q > 0 (integer arithmetic: rows that do not sum to 1 are rescaled),
  the remainder F − Σ q goes to the most probable entry (the first of equal ones), f_j = q_j + 1.
Every step is an IEEE-754 operation that is exactly rounded (one product, a floor, a clip, a
comparison) or integer arithmetic, applied element by element, so the same float64 rows give
the same integer rows on every machine, in every process and whatever the batch they come in.
(The probabilities themselves must be identical on both sides: see `lic.entropy.mixture` for a
model that makes them so.)

constriction takes the rows without rounding them again. Its lazy categorical model (a model
family with `perfect=False`, constriction's `LazyContiguousCategoricalEntropyModel::
from_floating_point_probabilities_fast`) gives symbol j of float weights w the left cumulative
⌊s · Σ_{i<j} w_i⌋ + j, with s = (2^24 − (L + 1)) / Σ w, and the right one 2^24 for the last
symbol. Fed w_j = f_j − 1, integers whose partial sums are exact in float64, s is exactly 1 and
symbol j gets frequency f_j exactly (tests/coding/test_persymbol.py measures it).
"""

from __future__ import annotations

import constriction
import numpy as np

#: Bits of the coder's probabilities: every row sums to 2**PRECISION (constriction's range coder).
PRECISION = 24
#: Most entries a row may have, escape included (F stays > 0 with room to spare).
MAX_ROW = 1 << 16
#: constriction's per-symbol categorical family (lazy: built from each symbol's row as it codes).
FAMILY = constriction.stream.model.Categorical(perfect=False)


def quantize_pmfs(pmfs: np.ndarray) -> np.ndarray:
    """Integer frequency rows (int64 [n, M], each entry ≥ 1, each row summing to
    2**PRECISION) of float64 probability rows [n, M], by the rule of the module docstring.

    Rows need not sum to 1 (they are rescaled); negative entries count as 0. Non-finite entries,
    or rows of fewer than 2 or more than `MAX_ROW` entries, are a ValueError."""
    p = np.asarray(pmfs, dtype=np.float64)
    if p.ndim != 2 or not 2 <= p.shape[1] <= MAX_ROW:
        raise ValueError(f"pmfs must be [n, M] with 2 ≤ M ≤ {MAX_ROW}, got {list(p.shape)}")
    if not np.all(np.isfinite(p)):
        raise ValueError("pmfs must be finite")
    p = np.clip(p, 0.0, 1.0)
    free = (1 << PRECISION) - p.shape[1]
    q = np.floor(p * free).astype(np.int64)
    total = q.sum(axis=1, keepdims=True)
    q = np.where(total > 0, q * free // np.maximum(total, 1), 0)  # < 2⁴⁸: exact in int64
    q[np.arange(len(q)), np.argmax(p, axis=1)] += free - q.sum(axis=1)
    return q + 1


def family_weights(frequencies: np.ndarray) -> np.ndarray:
    """The float64 weights f − 1 under which `FAMILY` codes exactly the integer `frequencies`
    [n, L + 1] (module docstring); a ValueError unless every row is a valid one."""
    f = np.asarray(frequencies)
    if f.ndim != 2 or not 2 <= f.shape[1] <= MAX_ROW or not np.issubdtype(f.dtype, np.integer):
        raise ValueError(f"frequencies must be integer rows [n, L + 1], 2 ≤ L + 1 ≤ {MAX_ROW}")
    f = f.astype(np.int64)
    if np.any(f < 1) or np.any(f.sum(axis=1) != 1 << PRECISION):
        raise ValueError(f"each frequency row must be ≥ 1 and sum to 2**{PRECISION}")
    return np.ascontiguousarray(f - 1, dtype=np.float64)
