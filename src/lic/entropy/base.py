"""What every entropy model shares: noisy/rounded quantization and coder tables kept fresh.

Training replaces rounding by additive uniform noise U(−½, ½) (Ballé et al. 2017, sec. 2.3), so
the likelihood of the noisy latent is the density convolved with a unit box; at test time the
latent is rounded, around a per-element offset (the median, or the predicted mean).

With `straight_through` set (training option "mixed" quantization), the rate is still that of the
noisy latent but the synthesis (and any context model) sees the latent rounded as it will be
coded, with the identity's gradient: Minnen & Singh 2020 (channel-wise autoregressive entropy
models) train so, which removes the train/test mismatch of the decoder's input.

With a `temperature` set (encoder-side latent refinement, `lic.refine`), rounding is replaced by
stochastic Gumbel annealing (`soft_round`): the rate and the synthesis see the same sample,
which tends to rounding as the temperature goes to zero (a checkerboard context draws its own
sample of the anchors for its spatial context).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from lic.coding import TableSet
from lic.layers import lower_bound


def quantize(x: torch.Tensor, noisy: bool, offset: torch.Tensor | float = 0.0) -> torch.Tensor:
    """x + U(−½, ½) when `noisy` (training), else round(x − offset) + offset (NCHW layout)."""
    if noisy:
        return x + torch.empty_like(x).uniform_(-0.5, 0.5)
    # Contiguous like the decoder's ŷ: a convolution may round differently on another layout.
    return (torch.round(x - offset) + offset).contiguous()


def round_straight_through(x: torch.Tensor, offset: torch.Tensor | float = 0.0) -> torch.Tensor:
    """round(x − offset) + offset forward; the identity's gradient backward (Bengio et al. 2013,
    the straight-through estimator; Theis et al. 2017 sec. 2.1)."""
    return x + (torch.round(x - offset) + offset - x).detach()


def soft_round(x: torch.Tensor, offset: torch.Tensor | float, temperature: float) -> torch.Tensor:
    """Stochastic Gumbel annealing (Yang, Bamler & Mandt 2020, "Improving inference for neural
    image compression", NeurIPS, sec. 3.3): v = x − offset is sent to ⌊v⌋ or ⌈v⌉, a two-way
    Gumbel-softmax sample at `temperature` τ with logits −atanh(r)/τ and −atanh(1 − r)/τ
    (r = v − ⌊v⌋), so the nearer integer is the likelier and the sample is a relaxed one-hot
    that differentiates in x. As τ → 0 the sample is round(v) (r ≠ ½); offset added back."""
    v = x - offset
    floor = torch.floor(v).detach()
    r = (v - floor).clamp(1e-5, 1 - 1e-5)
    logits = torch.stack([-torch.atanh(r), -torch.atanh(1 - r)], -1) / temperature
    gumbel = -torch.log(-torch.log(torch.rand_like(logits).clamp(1e-20, 1)))
    weights = torch.softmax((logits + gumbel) / temperature, -1)
    return floor + weights[..., 1] + offset


def stamp(tensors: Iterable[torch.Tensor]) -> tuple[tuple[int, int, int], ...]:
    """What changes when a tensor is replaced or changed in place: identity, storage and
    in-place version. Tensors made under `torch.inference_mode()` keep no version (and cannot
    be changed in place outside it): for them identity and storage."""
    return tuple((id(t), t.data_ptr(), -1 if t.is_inference() else t._version) for t in tensors)


class EntropyModel(nn.Module):
    """An entropy model with coder tables built from its parameters.

    The tables are rebuilt automatically whenever a parameter changed since they were last
    built (tracked by the tensors' in-place version counters), so `compress` can never use stale
    tables; `update()` forces a rebuild.
    """

    likelihood_bound = 1e-9

    def __init__(self) -> None:
        super().__init__()
        self._tables: TableSet | None = None
        self._tables_version: tuple[int, ...] | None = None
        self.straight_through = False  # training: see `synthesis_input`
        #: Stochastic Gumbel annealing's τ in place of noise (`soft_round`), or None.
        self.temperature: float | None = None

    @property
    def rounds_in_training(self) -> bool:
        """Whether training feeds the synthesis (and a checkerboard context) rounded, or
        soft-rounded, latents rather than noisy ones."""
        return self.straight_through or self.temperature is not None

    def rounded(self, x: torch.Tensor, offset: torch.Tensor | float) -> torch.Tensor:
        """x rounded around `offset` as training feeds it on when `rounds_in_training`: the
        annealed sample with a `temperature`, else rounding straight-through."""
        if self.temperature is not None:
            return soft_round(x, offset, self.temperature)
        return round_straight_through(x, offset)

    def quantize(
        self, x: torch.Tensor, noisy: bool, offset: torch.Tensor | float = 0.0
    ) -> torch.Tensor:
        """`quantize` (noise or rounding), or in training with a `temperature` the annealed
        soft rounding around `offset`."""
        if noisy and self.temperature is not None:
            return soft_round(x, offset, self.temperature)
        return quantize(x, noisy, offset)

    def synthesis_input(
        self, x: torch.Tensor, x_hat: torch.Tensor, offset: torch.Tensor | float, noisy: bool
    ) -> torch.Tensor:
        """The latent the synthesis sees, given x̂ = `self.quantize(x, noisy, offset)`: x̂
        itself, but in training (`noisy`) with `straight_through` and no `temperature`, x
        rounded around `offset` with the identity's gradient (module docstring); the rate
        always uses x̂."""
        if noisy and self.straight_through and self.temperature is None:
            return round_straight_through(x, offset)
        return x_hat

    def __getstate__(self) -> dict:
        """Copies and pickles leave the coder tables behind (constriction's models do not
        pickle); they are rebuilt from the parameters when first needed."""
        state = super().__getstate__()
        state["_tables"] = state["_tables_version"] = None
        return state

    def _parameter_versions(self) -> tuple[tuple[int, int, int], ...]:
        return stamp(self.parameters())

    def coder_constants(self) -> str:
        """The constants (beyond the weights) that decide this model's coder tables, as text:
        part of every file's digest, so a file is never decoded with other tables."""
        return type(self).__name__

    def build_tables(self) -> TableSet:  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self) -> TableSet:
        """Rebuild the coder tables from the current parameters."""
        with torch.no_grad():
            self._tables = self.build_tables()
        self._tables_version = self._parameter_versions()
        return self._tables

    @property
    def tables(self) -> TableSet:
        """Coder tables matching the current parameters."""
        if self._tables is None or self._tables_version != self._parameter_versions():
            return self.update()
        return self._tables

    def lower_bound_likelihood(self, likelihood: torch.Tensor) -> torch.Tensor:
        """Keep −log₂ p finite in training; the gradient still flows above the bound."""
        return lower_bound(likelihood, self.likelihood_bound)
