import math

import numpy as np
import torch

from lic.entropy import GaussianConditional


def _phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def test_likelihood_equals_the_discretized_gaussian():
    gc = GaussianConditional()
    y = torch.tensor([-3.0, 0.0, 1.0, 7.0])
    mu = torch.tensor([0.2, -0.4, 1.3, 0.0])
    sigma = torch.tensor([1.5, 0.3, 4.0, 0.8])
    got = gc.likelihood(y, sigma, mu)
    for i in range(4):
        v, s = float(y[i] - mu[i]), float(sigma[i])
        want = max(_phi((v + 0.5) / s) - _phi((v - 0.5) / s), 1e-9)
        assert abs(float(got[i]) - want) < 1e-6


def test_tables_are_monotone_and_cover_the_scale_table():
    gc = GaussianConditional()
    tables = gc.tables
    assert len(tables) == len(gc.scale_table)
    for t in (0, len(tables) // 2, len(tables) - 1):
        cdf = tables.cdf(t)
        assert np.all(np.diff(cdf) >= 0) and abs(cdf[-1] - 1) < 1e-9
        assert tables.offsets[t] == -(tables.lengths[t] // 2)


def test_indices_round_scales_up():
    gc = GaussianConditional()
    table = gc.scale_table.numpy()
    scales = torch.tensor([0.01, table[3], table[3] * 1.01, 1e6])
    idx = gc.indices(scales)
    assert list(idx) == [0, 3, 4, len(table) - 1]
    assert np.all(table[idx[1:3]] >= scales[1:3].numpy())


def test_mixed_quantization_rounds_for_the_synthesis_and_keeps_the_noisy_rate():
    gc = GaussianConditional().train()
    y = (torch.randn(2, 3, 4, 4) * 4).requires_grad_()
    mu, sigma = torch.randn(2, 3, 4, 4), torch.rand(2, 3, 4, 4) + 0.5
    torch.manual_seed(1)
    y_noisy, p_noisy = gc(y, sigma, mu)
    gc.straight_through = True
    torch.manual_seed(1)
    y_hat, p = gc(y, sigma, mu)
    assert torch.equal(p, p_noisy)  # the rate term: the noisy latent's
    assert torch.allclose(y_hat, torch.round(y - mu) + mu, atol=1e-6)  # the synthesis: ŷ as coded
    assert not torch.equal(y_hat, y_noisy)
    y_hat.sum().backward()
    assert torch.equal(y.grad, torch.ones_like(y))  # straight through
