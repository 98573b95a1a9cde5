"""Differentiable lower bound and the non-negative reparametrization used by GDN.

Ballé, Laparra & Simoncelli 2016 (appendix) keep GDN's β and γ positive by optimizing a
parameter p with value max(p, b)² − pedestal; the bound passes gradients that push the value
back up, so training cannot get stuck at the bound.
"""

from __future__ import annotations

import torch
from torch import nn


class _LowerBound(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, bound: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, bound)
        return torch.max(x, bound)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        x, bound = ctx.saved_tensors
        # Let the gradient through where x is above the bound, or where descent raises x.
        pass_through = (x >= bound) | (grad < 0)
        return pass_through.to(grad.dtype) * grad, None


def lower_bound(x: torch.Tensor, bound: float) -> torch.Tensor:
    """max(x, bound) whose gradient still moves x upwards when it sits below the bound."""
    return _LowerBound.apply(x, torch.tensor(bound, dtype=x.dtype, device=x.device))


class NonNegative(nn.Module):
    """Maps a free parameter p to max(p, sqrt(minimum + pedestal))² − pedestal ≥ minimum."""

    def __init__(self, minimum: float = 0.0, reparam_offset: float = 2**-18) -> None:
        super().__init__()
        self.pedestal = reparam_offset**2
        self.bound = (minimum + self.pedestal) ** 0.5

    def init(self, value: torch.Tensor) -> torch.Tensor:
        """The parameter that represents `value`."""
        return torch.sqrt(torch.clamp(value + self.pedestal, min=self.pedestal))

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return lower_bound(p, self.bound) ** 2 - self.pedestal
