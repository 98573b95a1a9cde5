import pytest
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


def _effective(p: torch.Tensor, minimum: float) -> torch.Tensor:
    """The documented reparametrization, in float64: max(p, √(minimum + 2⁻³⁶))² − 2⁻³⁶."""
    pedestal = 2.0**-36
    return p.double().clamp(min=(minimum + pedestal) ** 0.5) ** 2 - pedestal


def test_gdn_parameters_stay_in_range_under_training():
    torch.manual_seed(0)
    gdn = GDN(3)
    with torch.no_grad():
        gdn.gamma.copy_(gdn.gamma_param.init(torch.rand(3, 3) * 0.3 + 0.05))
    # Pull channel 0's β and the first row of γ down, past zero: the raw parameters go far
    # below the bound, the effective ones must stop at β_min = 1e-6 and at 0.
    optimizer = torch.optim.Adam(gdn.parameters(), lr=0.1)
    for _ in range(40):
        loss = gdn.beta_param(gdn.beta)[0] + gdn.gamma_param(gdn.gamma)[0].sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert torch.all(gdn.beta[:1] < 0) and torch.all(gdn.gamma[0] < 0)  # the raw: far below
    beta, gamma = _effective(gdn.beta.detach(), 1e-6), _effective(gdn.gamma.detach(), 0.0)
    assert torch.allclose(gdn.beta_param(gdn.beta).double(), beta, rtol=1e-6, atol=0)
    assert torch.allclose(gdn.gamma_param(gdn.gamma).double(), gamma, rtol=1e-6, atol=1e-12)
    assert float(beta[0]) == pytest.approx(1e-6, rel=1e-9) and torch.all(gamma[0] == 0)
    assert torch.allclose(beta[1:], torch.ones(2, dtype=torch.float64))  # not pulled: as set
    # The layer normalizes with the effective parameters: y = x / sqrt(β + Σ_j γ_ij x_j²).
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    expected = _formula(x, beta, gamma, inverse=False)
    assert torch.allclose(gdn(x.float()).double(), expected, rtol=1e-4, atol=1e-6)
    # Pushed back up, the parameters leave the bound: gradient still reaches them there.
    optimizer = torch.optim.Adam(gdn.parameters(), lr=0.1)
    for _ in range(40):
        loss = -(gdn.beta_param(gdn.beta)[0] + gdn.gamma_param(gdn.gamma)[0].sum())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        assert float(gdn.beta_param(gdn.beta)[0]) > 0.01
        assert torch.all(gdn.gamma_param(gdn.gamma)[0] > 0.01)


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


@pytest.mark.parametrize("inverse", [False, True])
def test_the_in_place_coding_path_computes_what_training_does(inverse):
    """Without autograd GDN works in place (less memory while coding): the same numbers."""
    torch.manual_seed(0)
    gdn = GDN(8, inverse=inverse)
    with torch.no_grad():
        gdn.gamma.add_(torch.rand_like(gdn.gamma) * 0.1)
    x = torch.randn(2, 8, 5, 7)
    with torch.no_grad():
        coded = gdn(x)
    assert torch.equal(coded, gdn(x).detach())
