"""Quantization to learned centres (lic.entropy.centres): the nearest centre forward, the soft
assignment's gradient backward, to z and to the centres."""

import torch

from lic.entropy import CentreQuantizer


def _quantizer() -> CentreQuantizer:
    quantizer = CentreQuantizer(5)
    with torch.no_grad():  # uneven centres, so that a wrong distance cannot agree by accident
        quantizer.centres.copy_(torch.tensor([-1.7, -0.4, 0.1, 0.9, 2.6]))
    return quantizer


def test_forward_gives_the_nearest_centre_and_its_index():
    quantizer = _quantizer()
    z = torch.randn(2, 3, 5, 7) * 2
    nearest = (z.unsqueeze(-1) - quantizer.centres.detach()).abs().argmin(-1)
    for training in (True, False):
        quantizer.train(training)
        z_hat, symbols = quantizer(z)
        assert torch.equal(symbols, nearest)
        assert torch.allclose(z_hat, quantizer.centres.detach()[nearest], rtol=0, atol=1e-6)
    assert torch.equal(z_hat, quantizer.centres.detach()[nearest])  # exactly, outside training


def test_the_gradient_is_the_soft_assignments_for_z_and_the_centres():
    """ẑ = stop_gradient(ẑ − z̃) + z̃ with z̃ = Σ softmax(−σ(z − c)²)·c: an identity
    straight-through estimator, or none, would give other gradients."""
    torch.manual_seed(0)
    z = torch.randn(40) * 2
    upstream = torch.randn(40)
    hard = _quantizer().train()
    z1 = z.clone().requires_grad_()
    (hard(z1)[0] * upstream).sum().backward()
    reference = _quantizer()
    z2 = z.clone().requires_grad_()
    c = reference.centres
    soft = (torch.softmax(-((z2[:, None] - c) ** 2), -1) * c).sum(-1)
    (soft * upstream).sum().backward()
    assert torch.allclose(z1.grad, z2.grad, atol=1e-6)
    assert torch.allclose(hard.centres.grad, c.grad, atol=1e-6)
    assert hard.centres.grad.abs().min() > 0 and not torch.allclose(z1.grad, upstream)
