"""Categoricals coded per symbol (lic.entropy.categorical): integer rows identical for logits that
differ by float rounding, and the Markov model of a count map round-tripped at its entropy."""

import math

import numpy as np
import pytest
import torch

from lic.coding import Decoder, Encoder
from lic.coding.persymbol import PRECISION, quantize_pmfs
from lic.entropy import MarkovCategorical, categorical_rows
from lic.entropy.categorical import certain_rows


def test_rows_are_the_softmax_in_integers_with_an_unused_escape():
    logits = np.random.default_rng(0).normal(0, 3, (1000, 6))
    rows = categorical_rows(logits)
    assert rows.shape == (1000, 7) and np.all(rows >= 1)
    assert np.all(rows.sum(1) == 1 << PRECISION) and np.all(rows[:, -1] == 1)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    probable = p > 1e-3
    relative = np.abs(rows[:, :-1] / 2**PRECISION - p) / p
    assert relative[probable].max() < 5e-3  # the grid of 2⁻⁸ moves p by ≤ e^(2⁻⁸)


def test_logits_differing_by_float_rounding_give_the_same_rows():
    """What another machine computes ~1e-11 differently: the same rows (snapped to the grid),
    where the unsnapped softmax's rows change."""
    logits = np.random.default_rng(1).normal(0, 3, (20_000, 6))
    other = logits * (1 + 1e-11)
    assert np.array_equal(categorical_rows(logits), categorical_rows(other))

    def unsnapped(logits: np.ndarray) -> np.ndarray:
        p = np.exp(logits - logits.max(1, keepdims=True))
        return quantize_pmfs(np.concatenate([p, np.zeros((len(p), 1))], 1))

    assert not np.array_equal(unsnapped(logits), unsnapped(other))


def test_a_certain_row_codes_symbol_zero_for_next_to_nothing():
    row = certain_rows(3, 6)
    assert row.shape == (3, 7) and np.all(row[:, 0] == (1 << PRECISION) - 6)
    assert -math.log2(row[0, 0] / 2**PRECISION) < 1e-6


def _model() -> MarkovCategorical:
    model = MarkovCategorical(9)
    with torch.no_grad():  # counts that stay near the one above, as on photos
        n = torch.arange(9.0)
        model.logits[:9] = -((n[None, :] - n[:9, None]) ** 2) / 2
        model.logits[9] = torch.randn(9)
    return model.eval()


def _counts(height: int, width: int) -> torch.Tensor:
    steps = torch.randint(-1, 2, (height, width), generator=torch.Generator().manual_seed(2))
    return (4 + steps.cumsum(0)).clamp(0, 8)


def test_the_likelihood_is_the_categorical_given_the_count_above():
    model = _model()
    counts = _counts(5, 4)
    p = model.likelihood(counts[None])[0].detach()
    table = torch.softmax(model.logits.detach().double(), 1)
    for i, j in np.ndindex(5, 4):
        above = 9 if i == 0 else int(counts[i - 1, j])
        assert float(p[i, j]) == pytest.approx(float(table[above, counts[i, j]]), rel=1e-12)


def test_a_count_map_round_trips_at_its_cross_entropy():
    model = _model()
    counts = _counts(40, 60)
    encoder = Encoder()
    model.compress(encoder, counts)
    data = encoder.finish()
    decoder = Decoder(data, counts.numel())
    assert torch.equal(model.decompress(decoder, (40, 60)), counts)
    decoder.check_finished()
    with torch.no_grad():
        bits = float(-torch.log2(model.likelihood(counts[None])).sum())
    assert abs(len(data) - bits / 8) <= 0.01 * bits / 8 + 8
