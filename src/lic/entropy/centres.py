"""Quantization to L learned centres (Mentzer et al. 2018, "Conditional probability models for
deep image compression", CVPR, sec. 3.1), beside the rounding of `lic.entropy.base`.

Every element z_i of a latent goes to the nearest of the centres C = {c_1, …, c_L} ⊂ ℝ:
  ẑ_i = Q(z_i) = argmin_j |z_i − c_j|            (the symbol coded is that index j),
which has no useful gradient. Training differentiates the soft assignment instead,
  z̃_i = Σ_j softmax(−σ (z_i − c_1)², …, −σ (z_i − c_L)²)_j · c_j,
through ẑ_i = stop_gradient(ẑ_i − z̃_i) + z̃_i: the value is the hard ẑ, the gradient z̃'s, with
respect to z and to the centres alike (the centres are trained with the model). σ = 1 as in the
paper. Outside training only the hard ẑ is computed (it is what the decoder gives back: exactly
the centre, no float sum around it).
"""

from __future__ import annotations

import torch
from torch import nn


class CentreQuantizer(nn.Module):
    """Nearest of L learned centres forward, the soft assignment's gradient backward.

    Args:
        centres: L, the number of centres (≥ 2).
        sigma: σ of the soft assignment.
        span: the centres start evenly spaced over [−span, span] (the paper draws them
            uniformly at random there, span 2).
    """

    def __init__(self, centres: int = 6, sigma: float = 1.0, span: float = 2.0) -> None:
        super().__init__()
        if centres < 2:
            raise ValueError(f"at least 2 centres, got {centres}")
        if not sigma > 0 or not span > 0:
            raise ValueError("sigma and span must be positive")
        self.sigma = sigma
        self.centres = nn.Parameter(torch.linspace(-span, span, centres))

    @property
    def count(self) -> int:
        """L, the number of centres (and of symbols)."""
        return self.centres.numel()

    def indices(self, z: torch.Tensor) -> torch.Tensor:
        """The index of the nearest centre of every element of z (long; the lower index of two
        equally near)."""
        return torch.argmin((z.detach().float().unsqueeze(-1) - self.centres.detach()).abs(), -1)

    def values(self, indices: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The centres at `indices`, as `dtype` (float64 is exact: the centres are float32)."""
        return self.centres.detach().to(dtype)[indices]

    def soft(self, z: torch.Tensor) -> torch.Tensor:
        """z̃, the soft assignment of every element of z (module docstring)."""
        distances = (z.unsqueeze(-1) - self.centres) ** 2
        return (torch.softmax(-self.sigma * distances, dim=-1) * self.centres).sum(-1)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(ẑ, symbols): ẑ the nearest centres of z (in training with the soft assignment's
        gradient), symbols their indices."""
        with torch.autocast(z.device.type, enabled=False):
            z = z.float()
            symbols = self.indices(z)
            hard = self.values(symbols)
            if not self.training:
                return hard, symbols
            soft = self.soft(z)
            return (hard - soft).detach() + soft, symbols
