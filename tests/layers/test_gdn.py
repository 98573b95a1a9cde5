import torch

from lic.layers import GDN, GainUnit, lower_bound


def _formula(
    x: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor, inverse: bool
) -> torch.Tensor:
    # y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2), computed element by element.
    norm = beta[None, :, None, None] + torch.einsum("ij,bjhw->bihw", gamma, x * x)
    return x * norm.sqrt() if inverse else x / norm.sqrt()


def test_gdn_and_igdn_equal_the_formula():
    torch.manual_seed(0)
    for inverse in (False, True):
        gdn = GDN(5, inverse=inverse)
        with torch.no_grad():
            gdn.beta.copy_(gdn.beta_param.init(torch.rand(5) + 0.5))
            gdn.gamma.copy_(gdn.gamma_param.init(torch.rand(5, 5) * 0.3))
        x = torch.randn(2, 5, 4, 3)
        beta, gamma = gdn.beta_param(gdn.beta), gdn.gamma_param(gdn.gamma)
        assert torch.allclose(gdn(x), _formula(x, beta, gamma, inverse), atol=1e-5)


def test_gdn_parameters_stay_in_range_under_training():
    gdn = GDN(3)
    optimizer = torch.optim.SGD(gdn.parameters(), lr=10.0)
    for _ in range(20):  # a loss that pulls beta and gamma towards negative values
        loss = gdn.beta_param(gdn.beta).sum() + gdn.gamma_param(gdn.gamma).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert torch.all(gdn.beta_param(gdn.beta) >= 1e-6 - 1e-12)
    assert torch.all(gdn.gamma_param(gdn.gamma) >= 0)
    assert torch.isfinite(gdn(torch.randn(1, 3, 2, 2))).all()


def test_lower_bound_passes_gradient_that_raises_the_value():
    x = torch.tensor([-1.0, 2.0], requires_grad=True)
    (-lower_bound(x, 0.5)).sum().backward()  # descent wants x larger: gradient must flow
    assert torch.equal(x.grad, torch.tensor([-1.0, -1.0]))
    x.grad = None
    lower_bound(x, 0.5).sum().backward()  # descent wants x smaller: blocked below the bound
    assert torch.equal(x.grad, torch.tensor([0.0, 1.0]))


def test_gain_unit_interpolates_exponentially_between_points():
    unit = GainUnit(4, 3)
    g1, g2 = unit.gain(torch.tensor([1.0])), unit.gain(torch.tensor([2.0]))
    g15 = unit.gain(torch.tensor([1.5]))
    assert torch.allclose(g15, (g1 * g2).sqrt())
    assert torch.all(g2 > g1)  # initialized so that a higher quality means a finer step
