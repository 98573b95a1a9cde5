import hashlib
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lic.coding import PRECISION, Decoder, Encoder, TableSet, pmf_with_tail, quantize_pmfs
from lic.coding.rangecoder import MARK_EVERY
from lic.errors import LicError


def _rows(rng: np.random.Generator, count: int, length: int) -> np.ndarray:
    """Random categorical distributions over length entries (escape last), some near-degenerate."""
    return rng.dirichlet(np.full(length + 1, 0.3), count)


def _draw(rng: np.random.Generator, pmfs: np.ndarray) -> np.ndarray:
    """One index per row, drawn from that row."""
    cdf = np.cumsum(pmfs, axis=1)
    return np.minimum((cdf < rng.random((len(pmfs), 1)) * cdf[:, -1:]).sum(axis=1), len(cdf[0]) - 1)


def _reference_quantization(row: np.ndarray) -> list[int]:
    """The rule of lic.coding.persymbol, in exact rational arithmetic, one row at a time."""
    free = 2**PRECISION - len(row)
    q = [math.floor(min(max(float(v), 0.0), 1.0) * free) for v in row]
    total = sum(q)
    q = [v * free // total if total else 0 for v in q]
    largest = max(range(len(row)), key=lambda j: (row[j], -j))
    q[largest] += free - sum(q)
    return [v + 1 for v in q]


def test_quantized_rows_follow_the_rule_keep_every_entry_and_sum_to_the_precision():
    rng = np.random.default_rng(0)
    pmfs = np.concatenate(
        [
            _rows(rng, 200, 7),
            np.full((1, 8), 1e-12),  # every entry below 2⁻²⁴: all the mass to the first
            np.array([[0.5, 0.3, 0.3, 0.1, -1e-17, 0.0, 0.0, 0.0]]),  # sums to 1.2, one < 0
            np.array([[0.1, 0.3, 0.3 + 1e-12, 0.3 - 1e-12, 0, 0, 0, 0]]),  # largest: the third
        ]
    )
    frequencies = quantize_pmfs(pmfs)
    assert frequencies.dtype == np.int64
    assert np.all(frequencies >= 1) and np.all(frequencies.sum(axis=1) == 2**PRECISION)
    for row, got in zip(pmfs, frequencies):
        assert got.tolist() == _reference_quantization(row)
    # Close to the probabilities: within the rounding of F and the remainder on the largest.
    normalized = pmfs[:200] / pmfs[:200].sum(axis=1, keepdims=True)
    assert np.abs(frequencies[:200] / 2**PRECISION - normalized).max() < 8 * 2**-PRECISION


@pytest.mark.parametrize("bad", [np.ones(4), np.ones((3, 1)), np.array([[0.5, np.nan]])])
def test_invalid_probability_rows_are_refused(bad):
    with pytest.raises(ValueError):
        quantize_pmfs(bad)


def test_random_categorical_distributions_round_trip_exactly_including_escapes():
    rng = np.random.default_rng(1)
    row, length = pmf_with_tail(np.array([0.2, 0.5, 0.2]), 4)
    tables = TableSet(row[None], [length], [-2])
    calls = []
    for length, count in [(1, 500), (6, 3000), (64, 2000), (300, 50)]:
        pmfs = _rows(rng, count, length)
        offsets = rng.integers(-1000, 1000, count)
        values = _draw(rng, pmfs) + offsets  # the escape index: a value just past the support
        far = rng.random(count) < 0.02
        values[far] = rng.integers(-(2**31), 2**31 - 1, far.sum())  # far outside, both sides
        calls.append((values, quantize_pmfs(pmfs), offsets))
    encoder = Encoder()
    for values, frequencies, offsets in calls:
        encoder.encode_per_symbol(values, frequencies, offsets)
        encoder.encode(np.array([1, -7]), np.zeros(2, dtype=int), tables)  # shares the stream
    decoder = Decoder(encoder.finish(), sum(len(c[0]) + 2 for c in calls))
    for values, frequencies, offsets in calls:
        assert np.array_equal(decoder.decode_per_symbol(frequencies, offsets), values)
        assert np.array_equal(decoder.decode(np.zeros(2, dtype=int), tables), [1, -7])
    decoder.check_finished()


def test_per_symbol_calls_split_around_check_marks_round_trip():
    rng = np.random.default_rng(2)
    sizes = [MARK_EVERY - 3, 10, MARK_EVERY + 1]
    parts = []
    for n in sizes:
        pmfs = _rows(rng, n, 3)
        parts.append((_draw(rng, pmfs), quantize_pmfs(pmfs)))
    encoder = Encoder()
    for values, frequencies in parts:
        encoder.encode_per_symbol(values, frequencies, np.zeros(len(values), dtype=int))
    decoder = Decoder(encoder.finish(), sum(sizes))
    for values, frequencies in parts:
        zeros = np.zeros(len(values), dtype=int)
        assert np.array_equal(decoder.decode_per_symbol(frequencies, zeros), values)
    decoder.check_finished()


def test_the_coder_codes_exactly_the_integer_frequencies():
    """Symbols of frequency 1, 2 and 3 cost 24, 23 and 22.4 bits: were constriction to round
    the rows again (one unit off on these), the size would move by thousands of bits."""
    rng = np.random.default_rng(3)
    count = 20_000
    frequencies = np.tile([1, 2, 3, 2**PRECISION - 6], (count, 1))
    values = rng.integers(0, 3, count)
    encoder = Encoder()
    encoder.encode_per_symbol(values, frequencies, np.zeros(count, dtype=int))
    size_bits = 8 * len(encoder.finish())
    bits = -np.log2(frequencies[np.arange(count), values] / 2**PRECISION).sum()
    assert bits <= size_bits <= bits + 32 + 64  # the end mark, and the coder's last words


def fingerprint() -> tuple[str, str]:
    """SHA-256 of the integer rows of fixed random probabilities, and of a stream coded under
    them (also run in other processes by the next test)."""
    rng = np.random.default_rng(1234)
    pmfs = rng.dirichlet(np.full(33, 0.2), 5000) * (1 + rng.normal(0, 1e-9, (5000, 1)))
    frequencies = quantize_pmfs(pmfs)
    values = np.argmax(pmfs, axis=1) + rng.integers(-3, 4, 5000)
    encoder = Encoder()
    encoder.encode_per_symbol(values, frequencies, rng.integers(-5, 5, 5000))
    return (
        hashlib.sha256(frequencies.astype("<i8").tobytes()).hexdigest(),
        hashlib.sha256(encoder.finish()).hexdigest(),
    )


def test_the_integer_model_is_identical_when_built_in_two_processes():
    """Same probabilities, two other processes (other hash seeds and thread counts) and this
    one: the same integer rows and the same bytes."""
    script = "from tests.coding.test_persymbol import fingerprint; print(*fingerprint())"
    root = Path(__file__).resolve().parents[2]
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed, "OMP_NUM_THREADS": threads},
        ).stdout.split()
        for seed, threads in (("1", "1"), ("2", "2"))
    ]
    assert runs[0] == runs[1] == list(fingerprint())


def _stream(count: int = 5000) -> tuple[bytes, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    pmfs = _rows(rng, count, 16)
    frequencies, offsets = quantize_pmfs(pmfs), rng.integers(-9, 9, count)
    values = _draw(rng, pmfs) + offsets
    encoder = Encoder()
    encoder.encode_per_symbol(values, frequencies, offsets)
    return encoder.finish(), values, frequencies, offsets


@pytest.mark.parametrize("cut", [4, 8, "half", "all"])
def test_a_truncated_per_symbol_stream_is_refused(cut):
    data, _, frequencies, offsets = _stream()
    short = b"" if cut == "all" else data[: len(data) // 2 // 4 * 4 if cut == "half" else -cut]
    with pytest.raises(LicError, match="ends before its symbols|corrupted stream"):
        Decoder(short, len(offsets)).decode_per_symbol(frequencies, offsets)


def test_garbage_under_per_symbol_rows_is_refused_at_the_first_check_mark():
    count = MARK_EVERY * 2
    frequencies = quantize_pmfs(np.full((count, 4), 0.25))
    decoder = Decoder(hashlib.sha256(b"x").digest() * 128, count)
    with pytest.raises(LicError, match=f"check mark after {MARK_EVERY} symbols"):
        decoder.decode_per_symbol(frequencies, np.zeros(count, dtype=int))


def test_more_per_symbol_values_than_announced_are_refused():
    data, _, frequencies, offsets = _stream()
    with pytest.raises(LicError, match="more symbols"):
        Decoder(data, len(offsets) - 1).decode_per_symbol(frequencies, offsets)


@pytest.mark.parametrize(
    "frequencies",
    [np.tile([1, 2**PRECISION - 2], (3, 1)), np.tile([0, 2**PRECISION], (3, 1)), np.ones((3, 2))],
    ids=["sum", "zero", "float"],
)
def test_rows_that_are_not_the_coders_model_are_refused(frequencies):
    with pytest.raises(ValueError):
        Encoder().encode_per_symbol(np.zeros(3, dtype=int), frequencies, np.zeros(3, dtype=int))
