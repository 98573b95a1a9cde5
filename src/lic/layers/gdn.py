"""Generalized divisive normalization (Ballé, Laparra & Simoncelli 2016, eq. 6).

GDN:  y_i = x_i / sqrt(β_i + Σ_j γ_ij x_j²)
IGDN: y_i = x_i · sqrt(β_i + Σ_j γ_ij x_j²)   (the approximate inverse used in the synthesis)

The sum over j runs over channels at the same spatial position, so it is a 1×1 convolution of
x² with weight γ. β ≥ 1e-6 and γ ≥ 0 are kept in range by `NonNegative`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lic.layers.bounds import NonNegative


class GDN(nn.Module):
    """GDN over `channels` channels; `inverse=True` gives IGDN."""

    def __init__(
        self, channels: int, inverse: bool = False, beta_min: float = 1e-6, gamma_init: float = 0.1
    ) -> None:
        super().__init__()
        if channels <= 0:
            raise ValueError(f"GDN needs a positive channel count, got {channels}")
        self.inverse = inverse
        self.beta_param = NonNegative(minimum=beta_min)
        self.gamma_param = NonNegative()
        self.beta = nn.Parameter(self.beta_param.init(torch.ones(channels)))
        self.gamma = nn.Parameter(self.gamma_param.init(gamma_init * torch.eye(channels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        beta = self.beta_param(self.beta)
        gamma = self.gamma_param(self.gamma).reshape(channels, channels, 1, 1)
        norm = F.conv2d(x * x, gamma.to(x.dtype), beta.to(x.dtype))
        if torch.is_grad_enabled():
            return x * torch.sqrt(norm) if self.inverse else x * torch.rsqrt(norm)
        # Coding: in place, one tensor the size of x fewer (a tile's first layer is ~90 MB).
        return (norm.sqrt_() if self.inverse else norm.rsqrt_()).mul_(x)
