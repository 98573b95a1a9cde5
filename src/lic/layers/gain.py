"""Gain units for variable-rate coding (Cui et al. 2021, "Asymmetric gained deep image
compression with continuous rate adaptation", sec. 3).

A gain unit holds one positive per-channel gain vector per trained rate point r = 1…R. A latent
is multiplied by the gain before quantization (a larger gain means a finer effective step) and
by a separately learned inverse gain after it. Point r stands for the integer quality
first + r; a continuous quality q between the points of qualities r and r + 1 uses the
exponential interpolation g = g_r^(1−l) · g_(r+1)^l, l = q − r (eq. 7), which is linear in the
log-gains that are stored here.
"""

from __future__ import annotations

import torch
from torch import nn


class GainUnit(nn.Module):
    """Per-channel gains for `points` rate points, the integer qualities first … first + points
    − 1; `forward(x, quality)` scales x."""

    def __init__(self, channels: int, points: int, spread: float = 0.5, first: int = 1) -> None:
        super().__init__()
        if points < 2:
            raise ValueError("a gain unit needs at least two rate points to interpolate")
        self.points, self.first = points, first
        # Start with the rate points already apart: gains 2^(spread·(r − centre)).
        steps = (torch.arange(points, dtype=torch.float32) - (points - 1) / 2) * spread
        self.log_gain = nn.Parameter(steps.mul(0.6931471805599453)[:, None].repeat(1, channels))

    def gain(self, quality: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Interpolated gains for qualities of shape [B], as [B, C, 1, 1], in `dtype`."""
        log_gains = self.log_gain.to(dtype)
        q = quality.to(dtype).clamp(self.first, self.first + self.points - 1) - self.first
        low = q.floor().clamp(max=self.points - 2).long()
        frac = (q - low)[:, None]
        log_gain = log_gains[low] * (1 - frac) + log_gains[low + 1] * frac
        return torch.exp(log_gain)[:, :, None, None]

    def forward(self, x: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
        """x × gain, computed in float64 when x is (coding), else in float32."""
        dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        return x * self.gain(quality, dtype).to(x.dtype)
