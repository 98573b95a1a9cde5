import math

import numpy as np
import pytest
import torch

from lic.coding import Decoder, Encoder
from lic.entropy import GaussianConditional, GaussianMixtureConditional
from lic.entropy.mixture import MAX_SUPPORT, normal_cdf
from lic.errors import LicError


def _parameters(
    shape: tuple[int, ...], components: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """float64 logits, means and scales [B, K, …] for latents of `shape` [B, …]."""
    g = torch.Generator().manual_seed(seed)
    size = (shape[0], components, *shape[1:])
    logits = torch.randn(size, generator=g, dtype=torch.float64) * 2
    means = torch.randn(size, generator=g, dtype=torch.float64) * 4
    scales = torch.exp(torch.rand(size, generator=g, dtype=torch.float64) * 5 - 3)  # 0.05 … 7.4
    return logits, means, scales


def _sample(logits, means, scales, seed: int) -> torch.Tensor:
    """y drawn from the (continuous) mixture, one per latent."""
    g = torch.Generator().manual_seed(seed)
    k = logits.shape[1]
    flat = torch.softmax(logits, 1).movedim(1, -1).reshape(-1, k)
    pick = torch.multinomial(flat, 1, generator=g).reshape(logits.shape[0], 1, *logits.shape[2:])
    mu, sigma = means.gather(1, pick).squeeze(1), scales.gather(1, pick).squeeze(1)
    return mu + sigma.clamp(min=0.11) * torch.randn(mu.shape, generator=g, dtype=mu.dtype)


def _code(model, y, logits, means, scales, mask=None) -> tuple[bytes, torch.Tensor]:
    encoder = Encoder()
    y_hat = model.compress(encoder, y, logits, means, scales, mask)
    return encoder.finish(), y_hat


def test_the_coding_paths_normal_cdf_matches_erfc():
    x = np.linspace(-12, 12, 48_001)
    want = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in x])
    got = normal_cdf(x)
    assert np.abs(got - want).max() < 1e-15
    tail = x > -8  # and relative accuracy down to Φ(−8) ≈ 6e-16
    assert (np.abs(got - want) / want)[tail].max() < 1e-12


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_likelihoods_over_the_integers_sum_to_one(dtype):
    logits, means, scales = _parameters((1, 6, 5), components=3, seed=0)
    grid = torch.arange(-90.0, 91.0, dtype=dtype)  # |μ| < 12, σ < 7.4: holds μ ± 10σ
    y_hat = grid.reshape(-1, 1, 1).expand(-1, 6, 5)
    params = (t.to(dtype).expand(len(grid), -1, -1, -1) for t in (logits, means, scales))
    p = GaussianMixtureConditional().likelihood(y_hat, *params)
    assert torch.all((p.double().sum(0) - 1).abs() < 1e-6)


def test_one_component_is_the_gaussian_conditional():
    torch.manual_seed(0)
    y = torch.randn(2, 4, 5, 6) * 5
    means, scales = torch.randn(2, 4, 5, 6) * 3, torch.rand(2, 4, 5, 6) * 3 + 0.01
    logits = torch.randn(2, 1, 4, 5, 6)
    gaussian, mixture = GaussianConditional().train(), GaussianMixtureConditional(1).train()
    y_hat = torch.round(y)
    assert torch.equal(
        mixture.likelihood(y_hat, logits, means[:, None], scales[:, None]),
        gaussian.likelihood(y_hat, scales, means),
    )
    for straight_through in (False, True):  # training: noise, and the "mixed" quantization
        gaussian.straight_through = mixture.straight_through = straight_through
        torch.manual_seed(1)
        want = gaussian(y, scales)
        torch.manual_seed(1)
        got = mixture(y, logits, torch.zeros(2, 1, 4, 5, 6), scales[:, None])
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


@pytest.mark.parametrize("components", [1, 3])
def test_round_trip_is_exact_including_escapes_and_masks(components):
    logits, means, scales = _parameters((1, 8, 12, 12), components, seed=components)
    scales[0, 0, 0, 0, :3] = 600.0  # wider than MAX_SUPPORT integers: a capped support
    assert 2 * 6 * 600 > MAX_SUPPORT
    y = _sample(logits, means, scales, seed=5)
    y[0, 1, 2, :4] = torch.tensor([1e4, -1e4, 3e8, -2e9], dtype=y.dtype)  # escapes
    model = GaussianMixtureConditional(components).eval()
    mask = torch.rand(1, 1, 12, 12, generator=torch.Generator().manual_seed(0)) < 0.5
    for m in (None, mask):
        data, y_hat = _code(model, y, logits, means, scales, m)
        assert torch.equal(y_hat, torch.round(y))
        count = y.numel() if m is None else int(m.expand_as(y).sum())
        decoder = Decoder(data, count)
        decoded = model.decompress(decoder, logits, means, scales, m)
        decoder.check_finished()
        keep = torch.ones_like(y, dtype=torch.bool) if m is None else m.expand_as(y)
        assert decoded.dtype == torch.float64
        assert torch.equal(decoded, torch.where(keep, y_hat, torch.zeros(())))


def test_coded_size_is_within_one_percent_of_the_information_content():
    logits, means, scales = _parameters((1, 20, 32, 32), components=3, seed=7)
    y = _sample(logits, means, scales, seed=8)
    model = GaussianMixtureConditional().eval()
    data, y_hat = _code(model, y, logits, means, scales)
    bits = -torch.log2(model.likelihood(y_hat, logits, means, scales)).sum().item()
    assert y.numel() == 20_480
    assert abs(8 * len(data) - bits) < 0.01 * bits


def test_parameters_computed_slightly_differently_code_the_same_bytes():
    """Parameters that another machine computes slightly differently (float64 convolutions:
    ~1e-15 relative; 1e-11 here, where 4 of these 16 384 rows would differ without the
    parameters' grids) code the same bytes."""
    logits, means, scales = _parameters((1, 16, 32, 32), components=3, seed=9)
    y = _sample(logits, means, scales, seed=10)
    g = torch.Generator().manual_seed(11)

    def nudged(t: torch.Tensor) -> torch.Tensor:
        return t * (1 + 1e-11 * torch.randn(t.shape, generator=g, dtype=t.dtype))

    model = GaussianMixtureConditional().eval()
    data, _ = _code(model, y, logits, means, scales)
    assert _code(model, y, nudged(logits), nudged(means), nudged(scales))[0] == data


@pytest.mark.parametrize("cut", [4, "half"])
def test_a_truncated_stream_is_refused(cut):
    logits, means, scales = _parameters((1, 8, 16, 16), components=2, seed=12)
    y = _sample(logits, means, scales, seed=13)
    model = GaussianMixtureConditional(2).eval()
    data, _ = _code(model, y, logits, means, scales)
    short = data[: len(data) // 2 // 4 * 4] if cut == "half" else data[:-cut]
    with pytest.raises(LicError):
        model.decompress(Decoder(short, y.numel()), logits, means, scales)


def test_parameters_that_are_not_finite_are_refused():
    logits, means, scales = _parameters((1, 2, 3, 3), components=2, seed=14)
    scales[0, 1, 1, 1, 1] = float("nan")
    with pytest.raises(LicError, match="not finite"):
        _code(GaussianMixtureConditional(2), torch.zeros(1, 2, 3, 3), logits, means, scales)


def test_split_reads_a_contexts_channels_as_logits_means_scales_component_major():
    model = GaussianMixtureConditional(2)
    assert model.parameters_per_latent == 6
    params = torch.arange(2 * 6 * 3 * 4 * 5, dtype=torch.float64).reshape(2, 6 * 3, 4, 5)
    logits, means, scales = model.split(params)
    assert logits.shape == means.shape == scales.shape == (2, 2, 3, 4, 5)
    for part, which in ((logits, 0), (means, 1), (scales, 2)):
        for k in range(2):
            for c in range(3):  # channel (which·K + k)·C + c of the context's output
                assert torch.equal(part[:, k, c], params[:, (which * 2 + k) * 3 + c])
    assert torch.equal(model.offset(params), torch.zeros(2, 3, 4, 5, dtype=torch.float64))
