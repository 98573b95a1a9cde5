"""Bjøntegaard deltas against worked examples whose answer is known in closed form."""

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
