"""The Gaussian mixture conditional: each latent under its own mixture of K discretized Gaussians.

Cheng et al. 2020 (Learned image compression with discretized Gaussian mixture likelihoods and
attention modules, sec. 3; K = 3 there) model each latent by K Gaussians, with weights w_k,
means μ_k and scales σ_k predicted per latent; convolved with a unit uniform (Ballé et al. 2017):
  p(ŷ | w, μ, σ) = Σ_k w_k [Φ((ŷ − μ_k + ½)/σ_k) − Φ((ŷ − μ_k − ½)/σ_k)],
each term computed as in `lic.entropy.gaussian` (exact in both tails), σ_k bounded below by
`scale_bound`, the likelihood by 1e-9. The parameters come as [B, K, …] for latents [B, …]
(dim 1 indexes the components); `weights` are logits, normalized by a softmax over dim 1. A
context model predicts them as 3K·C channels (`split`: K·C logits, K·C means, K·C scales, each
component-major). At K = 1 this is the Gaussian conditional's likelihood, bit for bit. With no
single mean to centre on, ŷ is y rounded to the integers (training: y + U(−½, ½), or the
straight-through rounding of `EntropyModel.synthesis_input`).

Coding. Every latent is coded under its own distribution through the per-symbol seam
(`lic.coding.persymbol`), whose integer rows are identical on every machine if the float64
probabilities are. Here they are, by two steps:
- the parameters (float64, as σ and μ are on every model's coding path, `lic.models.base`) are
  snapped to grids: μ to multiples of 2⁻¹⁰, σ to 10 significant bits, w to multiples of 2⁻¹²
  summing to exactly 1 (integer arithmetic). Parameters that another machine computes ~1e-15
  differently land on the same grid points unless one sits that close to a grid boundary
  (~1e-11 of the latents). Unsnapped, every entry's ⌊p·2²⁴⌋ would be such a boundary: a
  relative difference of 1e-11 changes 4 rows of 16 384 (tests/entropy/test_mixture.py), and
  one changed row turns the rest of the stream into garbage. The grids cost ~2e-6 bit a latent;
- Φ is `normal_cdf`, built from exactly rounded IEEE-754 operations only (no libm, no SIMD
  variant of erfc or exp that could differ by a last bit between CPUs, builds or positions in a
  batch).
A latent's support is the integers within `tail_mass` quantiles of every component (at most
`MAX_SUPPORT`), padded to a power of two L; latents are coded in groups of equal L (ascending,
raster order within a group), each row holding L + 1 entries, the last the escape.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from statistics import NormalDist

import numpy as np
import torch

from lic.coding import Decoder, Encoder, TableSet
from lic.coding.persymbol import PRECISION, quantize_pmfs
from lic.entropy.base import EntropyModel
from lic.entropy.gaussian import _std_normal_cdf
from lic.errors import LicError
from lic.layers import lower_bound

#: Chebyshev coefficients of erfcx(z) = exp(z²)·erfc(z) in t = (z − 3)/(z + 3) ∈ [−1, 1) for
#: z ≥ 0: interpolation at 64 Chebyshev nodes in 50-digit arithmetic (mpmath), truncated to 22
#: terms; relative error < 5e-15 on z ≥ 0.
_ERFCX_CHEBYSHEV = (
    0.32986277475303677,
    -0.45366152053780207,
    0.16039834082156296,
    -0.044908121151122825,
    0.009641428650695697,
    -0.0014425080777443955,
    0.00010099436735379916,
    1.20850245344553e-05,
    -3.6254206027537556e-06,
    7.186810742476415e-08,
    8.914235859898217e-08,
    -7.421566624959606e-09,
    -2.389336570265878e-09,
    3.062235535489925e-10,
    7.788945388151088e-11,
    -1.0973745829245584e-11,
    -3.0915207311917734e-12,
    3.525433881723422e-13,
    1.3990452179771617e-13,
    -8.246037476838809e-15,
    -6.6399614269893215e-15,
    -7.978348824752611e-17,
)
#: 1/n! for the Taylor polynomial of exp on |r| ≤ ln 2 / 2 (truncation error < 2e-16).
_EXP_TAYLOR = tuple(1 / math.factorial(n) for n in range(14))
_LN2 = 0.6931471805599453  # ln 2 rounded to float64
_SQRT_HALF = math.sqrt(0.5)  # IEEE square roots are exactly rounded
#: Beyond this z, erfc(z) < 2e-29: z is clipped here (an absolute error far below 2⁻²⁴).
_ERFC_ZMAX = 8.0

#: Grids of the coding path's parameters (module docstring).
MEAN_STEP = 2.0**-10
WEIGHT_STEPS = 1 << 12
SCALE_BITS = 10
#: Most integers a latent's row covers (escape excluded); the rest go to the escape.
MAX_SUPPORT = 1 << 12
#: Most components: the weights' grid keeps every weight's rounding absorbable by the largest.
MAX_COMPONENTS = 64
#: Probabilities evaluated at a time (rows × components × entries): bounds the coding memory.
_CHUNK = 1 << 16


def _exp(x: np.ndarray) -> np.ndarray:
    """exp(x) for float64 x in [−70, 0] from exactly rounded operations: x = k ln 2 + r,
    exp(r) by its Taylor polynomial, times 2^k exactly (relative error < 1e-14)."""
    k = np.rint(x / _LN2)
    r = x - k * _LN2
    poly = np.full_like(r, _EXP_TAYLOR[-1])
    for c in _EXP_TAYLOR[-2::-1]:
        poly *= r
        poly += c
    return np.ldexp(poly, k.astype(np.int32), out=poly)


def _erfc(z: np.ndarray) -> np.ndarray:
    """erfc(z) for float64 z ≥ 0 as exp(−z²)·erfcx(z), erfcx by its Chebyshev series (Clenshaw's
    recurrence); absolute error < 1e-15."""
    z = np.minimum(z, _ERFC_ZMAX)
    t = (z - 3.0) / (z + 3.0)
    two_t = 2.0 * t
    b0, b1, b2 = np.empty_like(t), np.zeros_like(t), np.zeros_like(t)
    for c in _ERFCX_CHEBYSHEV[:0:-1]:  # b0 = 2t·b1 − b2 + c, in place
        np.multiply(two_t, b1, out=b0)
        b0 -= b2
        b0 += c
        b0, b1, b2 = b2, b0, b1
    t *= b1
    t -= b2
    t += _ERFCX_CHEBYSHEV[0]
    np.multiply(z, z, out=z)
    np.negative(z, out=z)
    return _exp(z) * t


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Φ(x) of the standard normal, float64, identical on every IEEE-754 machine: the coding
    path's Φ (module docstring). Absolute error < 1e-15."""
    x = np.asarray(x, dtype=np.float64)
    tail = 0.5 * _erfc(np.abs(x) * _SQRT_HALF)
    return np.where(x < 0, tail, 1.0 - tail)


def _ceil_pow2(n: np.ndarray) -> np.ndarray:
    """Smallest power of two ≥ n, for integers n ≥ 2 (frexp is exact)."""
    return np.left_shift(1, np.frexp((n - 1).astype(np.float64))[1]).astype(np.int64)


class GaussianMixtureConditional(EntropyModel):
    """Each latent under its own mixture of K discretized Gaussians (see module docstring)."""

    def __init__(
        self, components: int = 3, scale_bound: float = 0.11, tail_mass: float = 1e-9
    ) -> None:
        super().__init__()
        if not 1 <= components <= MAX_COMPONENTS:
            raise ValueError(f"components must be in 1 … {MAX_COMPONENTS}, got {components}")
        if not scale_bound > 0 or not 0 < tail_mass < 1:
            raise ValueError("scale_bound must be positive and tail_mass in (0, 1)")
        self.components = components
        #: Entropy parameters per latent a context model predicts for this model: w, μ, σ each K.
        self.parameters_per_latent = 3 * components
        self.scale_bound = scale_bound
        self.tail_mass = tail_mass
        # On a grid of 1/16, so that a last-bit difference of inv_cdf cannot move a support.
        quantile = NormalDist().inv_cdf(1 - tail_mass / 2)
        self.support_quantile = math.ceil(quantile * 16) / 16

    def split(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits, means, scales), each [B, K, C, …], from a context's entropy parameters
        [B, 3K·C, …]: K·C logits, then K·C means, then K·C scales, component-major."""
        batch, channels, *rest = params.shape
        if channels % self.parameters_per_latent:
            raise ValueError(f"{channels} channels are not {self.parameters_per_latent} a latent")
        shape = (batch, self.components, channels // self.parameters_per_latent, *rest)
        weights, means, scales = params.chunk(3, 1)
        return weights.reshape(shape), means.reshape(shape), scales.reshape(shape)

    def offset(self, params: torch.Tensor) -> torch.Tensor:
        """What y is rounded around: 0, the integers (latents [B, C, …] of `params`)."""
        batch, channels, *rest = params.shape
        return params.new_zeros(batch, channels // self.parameters_per_latent, *rest)

    def likelihood(
        self,
        y_hat: torch.Tensor,
        weights: torch.Tensor,
        means: torch.Tensor,
        scales: torch.Tensor,
    ) -> torch.Tensor:
        """p(ŷ | w, μ, σ) of the module docstring, of ŷ's shape [B, …]; float32, or float64
        when an input is float64."""
        self._check_shapes(y_hat, weights, means, scales)
        dtype = torch.float32
        for t in (y_hat, weights, means, scales):
            dtype = torch.promote_types(dtype, t.dtype)
        with torch.autocast(y_hat.device.type, enabled=False):
            w = torch.softmax(weights.to(dtype), dim=1)
            values = torch.abs(y_hat.to(dtype).unsqueeze(1) - means.to(dtype))
            scales = lower_bound(scales.to(dtype), self.scale_bound)
            upper = _std_normal_cdf((0.5 - values) / scales)
            lower = _std_normal_cdf((-0.5 - values) / scales)
            return self.lower_bound_likelihood((w * (upper - lower)).sum(dim=1))

    def forward(
        self,
        y: torch.Tensor,
        weights: torch.Tensor,
        means: torch.Tensor,
        scales: torch.Tensor,
        noisy: bool | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Quantize y (noise in training) and return (ŷ, p(ŷ | w, μ, σ))."""
        noisy = self.training if noisy is None else noisy
        y = y.float()
        y_hat = self.quantize(y, noisy)
        likelihood = self.likelihood(y_hat, weights, means, scales)
        return self.synthesis_input(y, y_hat, 0.0, noisy), likelihood

    def coder_constants(self) -> str:
        return (
            f"{type(self).__name__}: {self.components} components, "
            f"scale bound {self.scale_bound!r}, "
            f"tail mass {self.tail_mass!r}, mean step {MEAN_STEP!r}, weight steps "
            f"{WEIGHT_STEPS}, scale bits {SCALE_BITS}, max support {MAX_SUPPORT}, chunk {_CHUNK}, "
            f"precision {PRECISION}, Φ: erfcx Chebyshev {len(_ERFCX_CHEBYSHEV)} terms"
        )

    def build_tables(self) -> TableSet:
        """None to build: every latent's distribution is built as it is coded."""
        return TableSet(np.zeros((0, 2)), np.zeros(0), np.zeros(0))

    def symbols(self, y: torch.Tensor) -> np.ndarray:
        """Integers to code: round(y)."""
        return torch.round(y.detach()).long().cpu().numpy()

    def dequantize(self, symbols: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """ŷ = the symbols, as `dtype`."""
        return torch.from_numpy(np.ascontiguousarray(symbols)).to(dtype)

    def compress(
        self,
        encoder: Encoder,
        y: torch.Tensor,
        weights: torch.Tensor,
        means: torch.Tensor,
        scales: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Code round(y), each latent under its own mixture (only where `mask` is true);
        returns ŷ in the means' precision."""
        self._check_shapes(y, weights, means, scales)
        symbols = self.symbols(y)
        keep = _keep(mask, symbols.shape)
        selected = symbols.ravel()[keep]
        for rows, frequencies, offsets in self._rows(weights, means, scales, keep):
            encoder.encode_per_symbol(selected[rows], frequencies, offsets)
        return self.dequantize(symbols, means.dtype)

    def decompress(
        self,
        decoder: Decoder,
        weights: torch.Tensor,
        means: torch.Tensor,
        scales: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Decode ŷ of the latents' shape [B, …] (zeros outside `mask`)."""
        shape = self._latent_shape(weights, means, scales)
        keep = _keep(mask, shape)
        selected = np.zeros(int(keep.sum()), dtype=np.int64)
        for rows, frequencies, offsets in self._rows(weights, means, scales, keep):
            selected[rows] = decoder.decode_per_symbol(frequencies, offsets)
        symbols = np.zeros(math.prod(shape), dtype=np.int64)
        symbols[keep] = selected
        return self.dequantize(symbols.reshape(shape), means.dtype)

    def _latent_shape(
        self, weights: torch.Tensor, means: torch.Tensor, scales: torch.Tensor
    ) -> tuple[int, ...]:
        """The latents' shape [B, …] of parameters [B, K, …] (a ValueError unless they agree)."""
        if not weights.shape == means.shape == scales.shape or weights.dim() < 2:
            raise ValueError("weights, means and scales must have the same shape [B, K, ...]")
        if weights.shape[1] != self.components:
            raise ValueError(f"{weights.shape[1]} components in dim 1, not {self.components}")
        return (means.shape[0], *means.shape[2:])

    def _check_shapes(
        self, y: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, scales: torch.Tensor
    ) -> None:
        if tuple(y.shape) != self._latent_shape(weights, means, scales):
            raise ValueError(
                f"latents {list(y.shape)} do not match parameters {list(means.shape)} "
                "(components in dim 1)"
            )

    def _rows(
        self,
        weights: torch.Tensor,
        means: torch.Tensor,
        scales: torch.Tensor,
        keep: np.ndarray,
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(positions among the kept latents, integer rows, offsets) in coding order: groups of
        equal support L ascending, raster order within a group, in chunks of bounded memory."""
        components = self.components

        def flat(t: torch.Tensor) -> np.ndarray:
            t = t.detach().to(torch.float64).cpu().movedim(1, -1).reshape(-1, components)
            return t.numpy()[keep]

        w = flat(torch.softmax(weights.detach().double(), dim=1))
        mu, sigma = flat(means), flat(scales)
        if not all(np.all(np.isfinite(a)) for a in (w, mu, sigma)):
            raise LicError("the entropy model's parameters are not finite")
        w, mu, sigma = self._snap(w, mu, sigma)
        lo, length = self._supports(w, mu, sigma)
        order = np.argsort(length, kind="stable")
        sizes, starts = np.unique(length[order], return_index=True)
        stops = [*starts[1:], len(order)]
        for size, start, stop in zip(sizes.tolist(), starts, stops):
            step = max(1, _CHUNK // (components * (size + 1)))
            for a in range(start, stop, step):
                rows = order[a : min(a + step, stop)]
                pmfs = _mixture_pmfs(w[rows], mu[rows], sigma[rows], lo[rows], size)
                yield rows, quantize_pmfs(pmfs), lo[rows]

    def _snap(
        self, w: np.ndarray, mu: np.ndarray, sigma: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The parameters on their grids (module docstring); exact operations only."""
        steps = np.rint(w * WEIGHT_STEPS).astype(np.int64)
        steps[np.arange(len(steps)), np.argmax(steps, axis=1)] += WEIGHT_STEPS - steps.sum(axis=1)
        mantissa, exponent = np.frexp(np.maximum(sigma, self.scale_bound))
        sigma = np.ldexp(np.rint(np.ldexp(mantissa, SCALE_BITS)), exponent - SCALE_BITS)
        return steps / WEIGHT_STEPS, np.rint(mu / MEAN_STEP) * MEAN_STEP, sigma

    def _supports(
        self, w: np.ndarray, mu: np.ndarray, sigma: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each latent's first coded integer and its row length L (a power of two): the
        integers within the support quantile of every weighted component."""
        reach = self.support_quantile * sigma
        active = w > 0
        lo = np.floor(np.where(active, mu - reach, np.inf).min(axis=1)).astype(np.int64)
        hi = np.ceil(np.where(active, mu + reach, -np.inf).max(axis=1)).astype(np.int64)
        count = hi - lo + 1
        wide = count > MAX_SUPPORT
        lo[wide] = (lo[wide] + hi[wide]) // 2 - MAX_SUPPORT // 2
        return lo, np.minimum(_ceil_pow2(count), MAX_SUPPORT)


def _mixture_pmfs(
    w: np.ndarray, mu: np.ndarray, sigma: np.ndarray, lo: np.ndarray, length: int
) -> np.ndarray:
    """Probability rows [n, length + 1] of the integers lo … lo + length − 1 and of the escape,
    each a Σ_k w_k (difference of Φ at the integers' edges); Σ_k in a fixed order."""
    edges = lo[:, None] + (np.arange(length + 1) - 0.5)
    cdf = np.zeros_like(edges)
    for k in range(w.shape[1]):
        cdf += w[:, k, None] * normal_cdf((edges - mu[:, k, None]) / sigma[:, k, None])
    pmfs = np.empty_like(edges)
    pmfs[:, :length] = cdf[:, 1:] - cdf[:, :-1]
    pmfs[:, length] = cdf[:, 0] + (1.0 - cdf[:, length])
    return pmfs


def _keep(mask: torch.Tensor | None, shape: tuple[int, ...]) -> np.ndarray:
    """Flat boolean selection of the coded latents (all without a mask)."""
    if mask is None:
        return np.ones(math.prod(shape), dtype=bool)
    return np.broadcast_to(mask.cpu().numpy(), shape).ravel()
