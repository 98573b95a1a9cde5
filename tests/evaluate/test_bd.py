"""Bjøntegaard deltas against worked examples whose answer is known in closed form."""

from fractions import Fraction

import numpy as np
import pytest

from lic.errors import LicError
from lic.evaluate.bd import _integral, bd_quality, bd_rate

RATE = [0.12, 0.21, 0.33, 0.48, 0.67, 0.94, 1.26, 1.66]
PSNR = [27.6, 29.2, 31.0, 32.8, 34.5, 36.7, 38.6, 40.6]


def test_rates_scaled_by_a_constant_give_that_bd_rate():
    assert bd_rate(RATE, PSNR, [r * 0.7 for r in RATE], PSNR) == pytest.approx(-0.3, abs=1e-12)
    assert bd_rate(RATE, PSNR, [r * 1.25 for r in RATE], PSNR) == pytest.approx(0.25, abs=1e-12)


def test_quality_shifted_by_a_constant_gives_that_bd_psnr():
    assert bd_quality(RATE, PSNR, RATE, [p + 0.8 for p in PSNR]) == pytest.approx(0.8, abs=1e-12)


def test_a_curve_against_itself_is_zero_and_the_sign_flips():
    other_rate = [r * (1 + 0.1 * np.sin(i)) for i, r in enumerate(RATE)]
    assert bd_rate(RATE, PSNR, RATE, PSNR) == pytest.approx(0, abs=1e-12)
    forward = bd_rate(RATE, PSNR, other_rate, PSNR)
    backward = bd_rate(other_rate, PSNR, RATE, PSNR)
    assert (1 + forward) * (1 + backward) == pytest.approx(1, abs=1e-9)


def test_pchip_integral_is_exact_on_linear_and_monotone_data():
    x = np.array([0.0, 1.0, 2.5, 4.0])
    assert _integral(x, 3 * x + 1, 0.5, 3.0) == pytest.approx(1.5 * (3.0**2 - 0.5**2) + 2.5)
    # Partial overlap: only [1, 2] of a two-segment line y = x.
    assert _integral(np.array([0.0, 2.0, 3.0]), np.array([0.0, 2.0, 3.0]), 1, 2) == pytest.approx(
        1.5
    )


def test_curves_that_do_not_overlap_are_an_error():
    with pytest.raises(LicError):
        bd_rate([0.1, 0.2], [20, 21], [1, 2], [40, 41])


# The interpolant: a monotone piecewise cubic Hermite (PCHIP) whose slopes are those of
# Fritsch & Carlson 1980 with the weighted harmonic mean of Fritsch & Butland 1984 inside and
# the shape-preserving three-point formula at the ends (Moler, "Numerical Computing with
# MATLAB", sec. 3.6; scipy.interpolate.PchipInterpolator). The reference below recomputes it
# in exact rational arithmetic and integrates each cubic in closed form, where bd.py works in
# floating point with Gauss–Legendre quadrature; the hand-derived examples check both.


def _reference_slopes(x: list[Fraction], y: list[Fraction]) -> list[Fraction]:
    h = [b - a for a, b in zip(x, x[1:])]
    delta = [(b - a) / step for a, b, step in zip(y, y[1:], h)]
    if len(x) == 2:
        return [delta[0], delta[0]]

    def end(h0: Fraction, h1: Fraction, d0: Fraction, d1: Fraction) -> Fraction:
        slope = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)
        if slope * d0 <= 0:  # would overshoot the first interval: flat
            return Fraction(0)
        if d0 * d1 < 0 and abs(slope) > 3 * abs(d0):  # the data turns: stay monotone
            return 3 * d0
        return slope

    inner = []
    for k in range(1, len(x) - 1):
        if delta[k - 1] * delta[k] <= 0:  # a local extremum: flat there
            inner.append(Fraction(0))
            continue
        w1, w2 = 2 * h[k] + h[k - 1], h[k] + 2 * h[k - 1]
        inner.append((w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k]))
    first = end(h[0], h[1], delta[0], delta[1])
    last = end(h[-1], h[-2], delta[-1], delta[-2])
    return [first, *inner, last]


def _reference_integral(xs, ys, low, high) -> Fraction:
    """∫ from low to high of the PCHIP interpolant of (xs, ys), exactly: each Hermite cubic
    p(x_k + t·h) = y_k·H00 + h·d_k·H10 + y_{k+1}·H01 + h·d_{k+1}·H11 integrated term by term."""
    x, y = [Fraction(v) for v in xs], [Fraction(v) for v in ys]
    d = _reference_slopes(x, y)

    def antiderivative(k: int, t: Fraction) -> Fraction:
        h = x[k + 1] - x[k]
        a00 = t**4 / 2 - t**3 + t
        a10 = t**4 / 4 - 2 * t**3 / 3 + t**2 / 2
        a01 = -(t**4) / 2 + t**3
        a11 = t**4 / 4 - t**3 / 3
        return h * (y[k] * a00 + h * d[k] * a10 + y[k + 1] * a01 + h * d[k + 1] * a11)

    total = Fraction(0)
    for k in range(len(x) - 1):
        a, b = max(x[k], Fraction(low)), min(x[k + 1], Fraction(high))
        if a < b:
            h = x[k + 1] - x[k]
            total += antiderivative(k, (b - x[k]) / h) - antiderivative(k, (a - x[k]) / h)
    return total


def _reference_mean_gap(xa, ya, xb, yb) -> float:
    a, b = sorted(zip(xa, ya)), sorted(zip(xb, yb))
    low, high = max(a[0][0], b[0][0]), min(a[-1][0], b[-1][0])
    gap = _reference_integral(*zip(*b), low, high) - _reference_integral(*zip(*a), low, high)
    return float(gap / (Fraction(high) - Fraction(low)))


def test_pchip_integral_on_a_hand_derived_example_differs_from_linear_and_quadratic():
    # x = 0, 1, 3; y = 0, 2, 3: h = (1, 2), secants δ = (2, 1/2).
    # Inside: w1 = 2·2 + 1 = 5, w2 = 2 + 2·1 = 4, d1 = 9 / (5/2 + 4/(1/2)) = 6/7.
    # Start: ((2·1 + 2)·2 − 1·½) / 3 = 5/2 (same sign as δ0: kept).
    # End: ((2·2 + 1)·½ − 2·2) / 3 = −1/2, against the sign of δ1: set to 0.
    # ∫ of a Hermite cubic over [x_k, x_k + h] = h(y_k + y_{k+1})/2 + h²(d_k − d_{k+1})/12:
    # 1 + (5/2 − 6/7)/12 + 5 + 4·(6/7 − 0)/12 = 6 + 71/168.
    x, y = np.array([0.0, 1.0, 3.0]), np.array([0.0, 2.0, 3.0])
    exact = 6 + 71 / 168
    assert _integral(x, y, 0.0, 3.0) == pytest.approx(exact, abs=1e-12)
    assert float(_reference_integral(x, y, 0, 3)) == pytest.approx(exact, abs=1e-15)
    # Wrong interpolants give other numbers: trapezoids 6, the quadratic through the points
    # (y = 2.5x − 0.5x²) 6.75, the end slope −1/2 without the limiter 6 + 99/168.
    for wrong in (6.0, 6.75, 6 + 99 / 168):
        assert abs(exact - wrong) > 0.1
    # As BD numbers: x is log10 R (BD-PSNR) or Q (BD-rate); the test curve is a straight line.
    assert bd_quality([1, 10, 1000], y, [1, 1000], [0, 0]) == pytest.approx(-exact / 3, abs=1e-12)
    expected_rate = 10 ** ((4.5 - exact) / 3) - 1  # test log10 R = Q: ∫ = 4.5
    assert bd_rate([1, 100, 1000], x, [1, 1000], [0, 3]) == pytest.approx(expected_rate, rel=1e-12)


def test_pchip_integral_over_part_of_the_curve_on_a_second_hand_example():
    # x = 0, 1, 2, 3; y = 0, 1, 0, 0: δ = (1, −1, 0); both inside points are extrema: d = 0.
    # Start: (3·1 − (−1))/2 = 2, same sign as δ0, the data turns but |2| ≤ 3·1: kept.
    # End: (3·0 − (−1))/2 = ½ against the sign of δ2 = 0: set to 0.
    # Over [½, 3]: on [0, 1] p = 2·H10 + H01 = 2t − t², ∫_½^1 = 2/3 − 5/24 = 11/24; on [1, 2]
    # (1 + 0)/2 = 1/2; on [2, 3] 0. Total 23/24.
    x, y = np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.0, 0.0])
    assert _integral(x, y, 0.5, 3.0) == pytest.approx(23 / 24, abs=1e-12)
    assert float(_reference_integral(x, y, Fraction(1, 2), 3)) == pytest.approx(23 / 24)
    # Linear: 7/8; the cubic through the points, t(t − 2)(t − 3)/2: 325/384; the end slope ½
    # kept (no limiter): 23/24 − 1/24.
    for wrong in (7 / 8, 325 / 384, 22 / 24):
        assert abs(23 / 24 - wrong) > 0.04


@pytest.mark.parametrize("case", range(4))
def test_bd_equals_an_exact_pchip_reference(case):
    rng = np.random.default_rng(case)
    # RD-like curves on rational grids: log10 R and Q on multiples of 1/8 and 1/16, increasing
    # with uneven steps, the test curve shifted so that the two overlap only in part.
    ref_log = np.cumsum(rng.integers(1, 6, 6)) / 8 - 1.5
    ref_q = 26 + np.cumsum(rng.integers(4, 40, 6)) / 16
    test_log = np.cumsum(rng.integers(1, 6, 5)) / 8 - 1.4
    test_q = 26.5 + np.cumsum(rng.integers(4, 40, 5)) / 16
    order = rng.permutation(5)  # the points need not come sorted
    test_log, test_q = test_log[order], test_q[order]
    ref_rate, test_rate = 10**ref_log, 10**test_log
    expected_quality = _reference_mean_gap(ref_log, ref_q, test_log, test_q)
    expected_rate = 10 ** _reference_mean_gap(ref_q, ref_log, test_q, test_log) - 1
    assert bd_quality(ref_rate, ref_q, test_rate, test_q) == pytest.approx(
        expected_quality, abs=1e-9
    )
    assert bd_rate(ref_rate, ref_q, test_rate, test_q) == pytest.approx(expected_rate, abs=1e-9)


def test_pchip_integral_equals_the_exact_reference_on_data_that_turns():
    rng = np.random.default_rng(11)
    for _ in range(30):  # ups and downs, flat runs, sharp turns: every limiter is exercised
        n = int(rng.integers(2, 8))
        x = np.cumsum(rng.integers(1, 9, n)) / 4
        y = rng.integers(-6, 7, n).astype(np.float64) * rng.choice([1, 8], n)
        low, high = np.sort(rng.choice(np.arange(x[0] * 8, x[-1] * 8 + 1) / 8, 2, replace=False))
        expected = float(_reference_integral(x, y, low, high))
        assert _integral(x, y, low, high) == pytest.approx(expected, abs=1e-9)


def test_bd_equals_scipy_pchip():
    interpolate = pytest.importorskip("scipy.interpolate")
    rng = np.random.default_rng(5)
    for _ in range(20):
        n = int(rng.integers(2, 9))
        x = np.sort(rng.uniform(-1, 1, n)) + np.arange(n)  # strictly increasing, uneven
        y = rng.normal(0, 1, n).cumsum()  # with turns: the limiters matter
        low, high = np.sort(rng.uniform(x[0], x[-1], 2))
        expected = interpolate.PchipInterpolator(x, y).integrate(low, high)
        assert _integral(x, y, low, high) == pytest.approx(expected, abs=1e-10)
    ref_rate, test_rate = np.array(RATE), np.array(RATE) * np.linspace(0.8, 0.6, len(RATE))
    pchip = interpolate.PchipInterpolator
    low, high = PSNR[0], PSNR[-1]
    gap = pchip(PSNR, np.log10(test_rate)).integrate(low, high)
    gap -= pchip(PSNR, np.log10(ref_rate)).integrate(low, high)
    expected = 10 ** (gap / (high - low)) - 1
    assert bd_rate(ref_rate, PSNR, test_rate, PSNR) == pytest.approx(expected, abs=1e-12)
