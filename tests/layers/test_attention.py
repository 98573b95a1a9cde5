"""The simplified attention module (Cheng et al. 2020, fig. 3) against formulas written here."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lic.layers import AttentionBlock
from lic.layers.attention import ResidualUnit
from tests.conftest import random_convolutions


def _unit(x: torch.Tensor, unit: ResidualUnit) -> torch.Tensor:
    """ReLU(x + W₃ ReLU(W₂ ReLU(W₁ x))), written with F.conv2d."""
    b = unit.bottleneck
    out = F.relu(F.conv2d(x, b.conv1.weight, b.conv1.bias))
    out = F.relu(F.conv2d(out, b.conv2.weight, b.conv2.bias, padding=1))
    return F.relu(x + F.conv2d(out, b.conv3.weight, b.conv3.bias))


def _zero_convs(module: nn.Module) -> None:
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Conv2d):
                layer.weight.zero_()
                layer.bias.zero_()


class _Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


# --- the residual unit -----------------------------------------------------------------------


def test_residual_unit_has_a_relu_after_the_sum():
    # Every convolution zero but W₃'s bias b: y = ReLU(x + b), negative sums clipped to 0.
    unit = ResidualUnit(4).double()
    _zero_convs(unit)
    bias = torch.tensor([0.5, -0.5, 2.0, -2.0], dtype=torch.float64)
    with torch.no_grad():
        unit.bottleneck.conv3.bias.copy_(bias)
    x = torch.randn(2, 4, 3, 5, dtype=torch.float64)
    expected = (x + bias[None, :, None, None]).clamp(min=0)
    assert (x + bias[None, :, None, None] < 0).any()
    assert torch.equal(unit(x), expected)


def test_residual_unit_is_relu_of_x_when_its_last_conv_is_zero():
    unit = random_convolutions(ResidualUnit(6), seed=1)
    with torch.no_grad():
        unit.bottleneck.conv3.weight.zero_()
        unit.bottleneck.conv3.bias.zero_()
    x = torch.randn(1, 6, 4, 4, dtype=torch.float64)
    assert torch.equal(unit(x), F.relu(x))


# --- the attention block ---------------------------------------------------------------------


def test_attention_is_x_when_the_trunk_is_zero():
    block = random_convolutions(AttentionBlock(8), seed=2)
    block.trunk = _Zero()
    x = torch.randn(2, 8, 5, 6, dtype=torch.float64)
    assert torch.equal(block(x), x)


def test_attention_is_x_when_the_mask_is_zero():
    # The mask's 1×1 convolution outputs −1000: σ = 0 in float64, the trunk is switched off.
    block = random_convolutions(AttentionBlock(8), seed=3)
    with torch.no_grad():
        block.mask[3].weight.zero_()
        block.mask[3].bias.fill_(-1000.0)
    x = torch.randn(2, 8, 5, 6, dtype=torch.float64)
    assert torch.equal(block(x), x)


def test_attention_hand_computed():
    # Trunk convolutions all zero: each unit is ReLU(x + 0), so T(x) = ReLU(x). The mask's
    # 1×1 convolution is zero with bias ln 3: σ(ln 3) = 3/4. So y = x + ¾·ReLU(x):
    # 1.75·x where x > 0, x elsewhere.
    block = random_convolutions(AttentionBlock(4), seed=4)
    _zero_convs(block.trunk)
    with torch.no_grad():
        block.mask[3].weight.zero_()
        block.mask[3].bias.fill_(math.log(3.0))
    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], dtype=torch.float64).repeat(1, 4, 1, 1)
    expected = torch.tensor([-2.0, -0.5, 0.0, 0.875, 3.5], dtype=torch.float64).repeat(1, 4, 1, 1)
    torch.testing.assert_close(block(x), expected, rtol=0, atol=1e-15)


def test_attention_equals_formula():
    block = random_convolutions(AttentionBlock(8), seed=5)
    x = torch.randn(2, 8, 6, 7, dtype=torch.float64)
    trunk, mask = x, x
    for unit in block.trunk:
        trunk = _unit(trunk, unit)
    for unit in block.mask[:3]:
        mask = _unit(mask, unit)
    mask = torch.sigmoid(F.conv2d(mask, block.mask[3].weight, block.mask[3].bias))
    torch.testing.assert_close(block(x), x + trunk * mask, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("hw", [(8, 8), (7, 9), (1, 1), (2, 5)])
def test_attention_keeps_the_shape(hw):
    block = AttentionBlock(4)
    assert block(torch.randn(2, 4, *hw)).shape == (2, 4, *hw)
    assert block(torch.randn(1, 4, *hw, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize("pixel", [(6, 6), (0, 0), (11, 3), (2, 9)])
def test_attention_receptive_field_is_radius_3(pixel):
    # Changing one input pixel changes exactly the outputs within 3 pixels (a 7×7 window).
    block = random_convolutions(AttentionBlock(16), seed=6)
    x = torch.randn(1, 16, 12, 12, dtype=torch.float64)
    moved = x.clone()
    moved[0, :, pixel[0], pixel[1]] += 1.0
    with torch.no_grad():
        diff = (block(moved) - block(x)).abs().amax(dim=(0, 1))
    changed = {tuple(p) for p in (diff > 1e-9).nonzero().tolist()}
    expected = {
        (r, c)
        for r in range(12)
        for c in range(12)
        if abs(r - pixel[0]) <= 3 and abs(c - pixel[1]) <= 3
    }
    assert changed == expected


def test_attention_parameter_count_at_192_channels():
    c, h = 192, 96
    unit = (c * h + h) + (9 * h * h + h) + (h * c + c)
    assert sum(p.numel() for p in ResidualUnit(c).parameters()) == unit == 120_192
    total = 6 * unit + c * c + c
    assert sum(p.numel() for p in AttentionBlock(c).parameters()) == total == 758_208


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: AttentionBlock(5), "AttentionBlock needs an even channels"),
        (lambda: AttentionBlock(0), "AttentionBlock needs a positive integer channels"),
        (lambda: ResidualUnit(3), "ResidualUnit needs an even channels"),
    ],
)
def test_bad_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()
