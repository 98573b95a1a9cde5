import numpy as np
import torch

from lic.entropy import FactorizedDensity


def test_likelihoods_over_the_integers_sum_to_one():
    torch.manual_seed(0)
    density = FactorizedDensity(4)
    with torch.no_grad():  # move the densities away from their initial shape
        for p in density.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    values = torch.arange(-300, 301, dtype=torch.float32).repeat(4, 1)[:, None, :]
    total = density._likelihood(values).sum(-1)
    assert torch.allclose(total, torch.ones_like(total), atol=1e-3)


def test_tables_are_monotone_and_match_the_likelihood():
    torch.manual_seed(1)
    density = FactorizedDensity(3)
    tables = density.tables
    for t in range(len(tables)):
        cdf = tables.cdf(t)
        assert np.all(np.diff(cdf) >= 0) and abs(cdf[-1] - 1) < 1e-6
    # Entry k of table c is the likelihood of median + offset + k.
    c, k = 1, 5
    value = density.medians[c] + tables.offsets[c] + k
    x = torch.full((1, 3, 1, 1), float(value))
    _, likelihood = density(x, noisy=False)
    assert abs(tables.pmfs[c, k] - float(likelihood.detach()[0, c])) < 1e-6


def test_aux_loss_moves_quantiles_to_the_tails():
    torch.manual_seed(0)
    density = FactorizedDensity(2)
    optimizer = torch.optim.Adam([density.quantiles], lr=0.5)
    before = density.aux_loss().item()
    for _ in range(800):
        loss = density.aux_loss()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert density.aux_loss().item() < 0.01 * before
    # The outer quantiles now sit where the cumulative is tail_mass/2 and 1 - tail_mass/2.
    logits = density.logits_cumulative(density.quantiles.detach())
    assert torch.all(torch.sigmoid(logits[:, 0, 0]) < 1e-6)


def test_tables_are_rebuilt_when_parameters_change():
    density = FactorizedDensity(2)
    first = density.tables
    assert density.tables is first  # unchanged parameters: the same tables
    with torch.no_grad():
        density.biases[0].add_(1.0)
    assert density.tables is not first


def test_noise_in_training_and_rounding_around_the_median_in_eval():
    density = FactorizedDensity(2)
    z = torch.randn(1, 2, 5, 5) * 3
    density.eval()
    z_hat, _ = density(z)
    medians = density.medians.reshape(1, -1, 1, 1)
    assert torch.equal(z_hat, torch.round(z - medians) + medians)
    density.train()
    z_noisy, _ = density(z)
    assert 0 < (z_noisy - z).abs().max() <= 0.5


def test_mixed_quantization_rounds_around_the_median_in_training():
    density = FactorizedDensity(2).train()
    density.straight_through = True
    z = (torch.randn(1, 2, 5, 5) * 3).requires_grad_()
    z_hat, _ = density(z)
    medians = density.medians.reshape(1, -1, 1, 1)
    assert torch.allclose(z_hat, torch.round(z - medians) + medians, atol=1e-6)
    z_hat.sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))
