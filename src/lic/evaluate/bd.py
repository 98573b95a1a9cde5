"""Bjøntegaard delta rate and delta quality (VCEG-M33; piecewise cubic variant of VCEG-AL22).

Each RD curve is interpolated with a monotone piecewise cubic Hermite polynomial (PCHIP,
Fritsch & Carlson 1980) through its points, integrated exactly over the interval where both
curves are defined, and the mean difference taken:
  BD-rate = 10^(mean over Q of log10 R_test(Q) − log10 R_ref(Q)) − 1   (negative: fewer bits)
  BD-PSNR = mean over log10 R of Q_test − Q_ref                          (positive: better)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lic.errors import LicError


def _pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fritsch–Carlson derivatives: monotone data gives a monotone interpolant."""
    h = np.diff(x)
    delta = np.diff(y) / h
    d = np.zeros_like(y)
    if len(x) == 2:
        return np.full_like(y, delta[0])
    for k in range(1, len(x) - 1):
        if delta[k - 1] * delta[k] > 0:
            w1, w2 = 2 * h[k] + h[k - 1], h[k] + 2 * h[k - 1]
            d[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])
    for end, (hs, ds) in ((0, (h[:2], delta[:2])), (-1, (h[::-1][:2], delta[::-1][:2]))):
        slope = ((2 * hs[0] + hs[1]) * ds[0] - hs[0] * ds[1]) / (hs[0] + hs[1])
        if np.sign(slope) != np.sign(ds[0]):
            slope = 0.0
        elif np.sign(ds[0]) != np.sign(ds[1]) and abs(slope) > abs(3 * ds[0]):
            slope = 3 * ds[0]
        d[end] = slope
    return d


def _integral(x: np.ndarray, y: np.ndarray, low: float, high: float) -> float:
    """∫ of the PCHIP interpolant of (x, y) from low to high (x increasing)."""
    d = _pchip_slopes(x, y)
    # Sample the cubic Hermite segments with Gauss–Legendre nodes: exact for cubics.
    nodes, weights = np.polynomial.legendre.leggauss(3)
    total = 0.0
    for k in range(len(x) - 1):
        a, b = max(x[k], low), min(x[k + 1], high)
        if b <= a:
            continue
        t_points = (a + b) / 2 + (b - a) / 2 * nodes
        h = x[k + 1] - x[k]
        t = (t_points - x[k]) / h
        h00, h10 = 2 * t**3 - 3 * t**2 + 1, t**3 - 2 * t**2 + t
        h01, h11 = -2 * t**3 + 3 * t**2, t**3 - t**2
        values = h00 * y[k] + h10 * h * d[k] + h01 * y[k + 1] + h11 * h * d[k + 1]
        total += (b - a) / 2 * float(np.dot(weights, values))
    return total


def _curve(rate: Sequence[float], quality: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    r, q = np.asarray(rate, dtype=np.float64), np.asarray(quality, dtype=np.float64)
    keep = np.isfinite(r) & np.isfinite(q) & (r > 0)
    r, q = r[keep], q[keep]
    if len(r) < 2:
        raise LicError("a BD computation needs at least two finite RD points per curve")
    return np.log10(r), q


def _mean_gap(xa: np.ndarray, ya: np.ndarray, xb: np.ndarray, yb: np.ndarray) -> float:
    """Mean of y_b − y_a over the shared x interval; x need not be sorted."""
    oa, ob = np.argsort(xa), np.argsort(xb)
    xa, ya, xb, yb = xa[oa], ya[oa], xb[ob], yb[ob]
    if np.any(np.diff(xa) <= 0) or np.any(np.diff(xb) <= 0):
        raise LicError("an RD curve repeats a value where it must be strictly monotone")
    low, high = max(xa[0], xb[0]), min(xa[-1], xb[-1])
    if high <= low:
        raise LicError("the two RD curves do not overlap")
    return (_integral(xb, yb, low, high) - _integral(xa, ya, low, high)) / (high - low)


def bd_rate(ref_rate, ref_quality, test_rate, test_quality) -> float:
    """BD-rate of test against reference, as a fraction (−0.3 means 30% fewer bits)."""
    log_ref, q_ref = _curve(ref_rate, ref_quality)
    log_test, q_test = _curve(test_rate, test_quality)
    return 10 ** _mean_gap(q_ref, log_ref, q_test, log_test) - 1


def bd_quality(ref_rate, ref_quality, test_rate, test_quality) -> float:
    """BD-PSNR (or BD of any quality measure) of test against reference."""
    log_ref, q_ref = _curve(ref_rate, ref_quality)
    log_test, q_test = _curve(test_rate, test_quality)
    return _mean_gap(log_ref, q_ref, log_test, q_test)
