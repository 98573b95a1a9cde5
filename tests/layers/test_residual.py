"""Residual blocks of Cheng et al. 2020 and ELIC against formulas written out here."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lic.layers import (
    ResidualBlock,
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    ResidualBottleneck,
    subpixel_conv,
)
from tests.conftest import random_convolutions

SLOPE = 0.01  # LeakyReLU's slope, as documented


def _conv(x: torch.Tensor, layer: nn.Conv2d) -> torch.Tensor:
    """A stride-1 convolution with zero padding k//2 (the strided ones subsample this)."""
    pad = layer.kernel_size[0] // 2
    return F.conv2d(x, layer.weight, layer.bias, padding=pad)


def _gdn(x: torch.Tensor, gdn: nn.Module, inverse: bool) -> torch.Tensor:
    # y_i = x_i / sqrt(β_i + Σ_j γ_ij x_j²), or x_i · sqrt(...) for the inverse.
    beta, gamma = gdn.beta_param(gdn.beta), gdn.gamma_param(gdn.gamma)
    norm = beta[None, :, None, None] + torch.einsum("ij,bjhw->bihw", gamma, x * x)
    return x * norm.sqrt() if inverse else x / norm.sqrt()


def _depth_to_space(z: torch.Tensor, r: int) -> torch.Tensor:
    """out[c, y, x] = z[c·r² + (y mod r)·r + (x mod r), y//r, x//r], by reshape and permute."""
    n, cr2, h, w = z.shape
    c = cr2 // (r * r)
    return z.reshape(n, c, r, r, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c, h * r, w * r)


def _changed(block: nn.Module, shape: tuple[int, ...], pixel: tuple[int, int]) -> set:
    """Output positions (row, column) that change when one input pixel changes."""
    x = torch.randn(shape, dtype=torch.float64)
    moved = x.clone()
    moved[0, :, pixel[0], pixel[1]] += 1.0
    with torch.no_grad():
        diff = (block(moved) - block(x)).abs().amax(dim=(0, 1))
    return {tuple(p) for p in (diff > 1e-9).nonzero().tolist()}


def _predicted(
    reads: Callable[[int, int], set[int]], out_hw: tuple[int, int], pixel: tuple[int, int]
) -> set:
    """Output positions whose documented input pixels (per axis) include `pixel`."""
    rows = [o for o in range(out_hw[0]) if pixel[0] in reads(o, out_hw[0])]
    cols = [o for o in range(out_hw[1]) if pixel[1] in reads(o, out_hw[1])]
    return {(r, c) for r in rows for c in cols}


def _span(lo: int, hi: int) -> set[int]:
    return set(range(lo, hi + 1))


def _strided(s: int) -> Callable[[int, int], set[int]]:
    # Output i reads s·j − 1 … s·j + 1 for the first convolution's outputs j = i − 1 … i + 1
    # that exist (0 ≤ j < n).
    return lambda o, n: {s * j + d for j in (o - 1, o, o + 1) if 0 <= j < n for d in (-1, 0, 1)}


# --- ResidualBottleneck (ELIC) ---------------------------------------------------------------


def test_bottleneck_hand_computed():
    # C = 2, every weight 1 and bias 0, x = 1 on a 3×3 image. W₁x = 2; the 3×3 convolution of
    # a constant 2 with zero padding sums 9, 6 or 4 taps (centre, edge, corner): 18, 12, 8;
    # W₃ copies that to both channels; the identity adds 1.
    block = ResidualBottleneck(2).double()
    with torch.no_grad():
        for layer in (block.conv1, block.conv2, block.conv3):
            layer.weight.fill_(1.0)
            layer.bias.zero_()
    x = torch.ones(1, 2, 3, 3, dtype=torch.float64)
    plane = torch.tensor([[9.0, 13.0, 9.0], [13.0, 19.0, 13.0], [9.0, 13.0, 9.0]])
    assert torch.equal(block(x), plane.double().expand(1, 2, 3, 3))


def test_bottleneck_equals_formula_and_no_activation_after_the_sum():
    block = random_convolutions(ResidualBottleneck(8), seed=1)
    x = torch.randn(2, 8, 5, 7, dtype=torch.float64)
    inner = F.relu(_conv(F.relu(_conv(x, block.conv1)), block.conv2))
    expected = x + _conv(inner, block.conv3)
    assert (expected < 0).any()  # a ReLU after the sum would show here
    torch.testing.assert_close(block(x), expected, rtol=1e-12, atol=1e-12)


def test_bottleneck_is_the_identity_when_its_last_conv_is_zero():
    block = random_convolutions(ResidualBottleneck(6), seed=2)
    with torch.no_grad():
        block.conv3.weight.zero_()
        block.conv3.bias.zero_()
    x = torch.randn(1, 6, 4, 5, dtype=torch.float64)
    assert torch.equal(block(x), x)


# --- ResidualBlock (Cheng et al.) ------------------------------------------------------------


def test_residual_block_hand_computed_leaky_slope():
    # One channel, W₁ = −1 and W₂ = 1 at the centre tap, biases 0: y = lrelu(lrelu(−x)) + x.
    # x = 2: lrelu(−2) = −0.02, lrelu(−0.02) = −0.0002, y = 1.9998. x = −3: y = 3 − 3 = 0.
    block = ResidualBlock(1, 1).double()
    with torch.no_grad():
        for layer, centre in ((block.conv1, -1.0), (block.conv2, 1.0)):
            layer.weight.zero_()
            layer.weight[0, 0, 1, 1] = centre
            layer.bias.zero_()
    x = torch.tensor([2.0, -3.0], dtype=torch.float64).reshape(1, 1, 1, 2)
    expected = torch.tensor([1.9998, 0.0], dtype=torch.float64).reshape(1, 1, 1, 2)
    torch.testing.assert_close(block(x), expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("in_ch,out_ch", [(4, 4), (3, 6)])
def test_residual_block_equals_formula(in_ch, out_ch):
    block = random_convolutions(ResidualBlock(in_ch, out_ch), seed=3)
    x = torch.randn(2, in_ch, 6, 5, dtype=torch.float64)
    out = F.leaky_relu(_conv(x, block.conv1), SLOPE)
    out = F.leaky_relu(_conv(out, block.conv2), SLOPE)
    skip = x if in_ch == out_ch else F.conv2d(x, block.skip.weight, block.skip.bias)
    assert (block.skip is None) == (in_ch == out_ch)
    torch.testing.assert_close(block(x), out + skip, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("in_ch,out_ch", [(4, 4), (3, 6)])
def test_residual_block_is_its_skip_when_its_last_conv_is_zero(in_ch, out_ch):
    block = random_convolutions(ResidualBlock(in_ch, out_ch), seed=4)
    with torch.no_grad():
        block.conv2.weight.zero_()
        block.conv2.bias.zero_()
    x = torch.randn(1, in_ch, 5, 5, dtype=torch.float64)
    skip = x if in_ch == out_ch else torch.einsum("oi,bihw->bohw", block.skip.weight[:, :, 0, 0], x)
    if in_ch != out_ch:
        skip = skip + block.skip.bias[None, :, None, None]
    torch.testing.assert_close(block(x), skip, rtol=1e-12, atol=1e-12)


# --- ResidualBlockWithStride -----------------------------------------------------------------


@pytest.mark.parametrize("stride", [1, 2, 3, 4])
@pytest.mark.parametrize("hw", [(8, 12), (7, 9), (1, 1), (5, 16)])
def test_with_stride_shape(stride, hw):
    block = ResidualBlockWithStride(3, 5, stride)
    out = block(torch.randn(2, 3, *hw))
    assert out.shape == (2, 5, math.ceil(hw[0] / stride), math.ceil(hw[1] / stride))
    if hw[0] % stride == 0 and hw[1] % stride == 0:
        assert out.shape[2:] == (hw[0] // stride, hw[1] // stride)


def test_with_stride_follows_float64():
    block = ResidualBlockWithStride(3, 4)
    x = torch.randn(1, 3, 6, 6)
    out = block(x.double())
    assert out.dtype == torch.float64
    torch.testing.assert_close(out.float(), block(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("stride", [2, 3])
def test_with_stride_equals_formula(stride):
    # Output (i, j) is centred on input (s·i, s·j): the stride-1 convolution subsampled there.
    block = random_convolutions(ResidualBlockWithStride(3, 4, stride), seed=5)
    x = torch.randn(2, 3, 7, 10, dtype=torch.float64)
    out = F.leaky_relu(_conv(x, block.conv1)[..., ::stride, ::stride], SLOPE)
    out = _gdn(_conv(out, block.conv2), block.gdn, inverse=False)
    skip = F.conv2d(x[..., ::stride, ::stride], block.skip.weight, block.skip.bias)
    torch.testing.assert_close(block(x), out + skip, rtol=1e-12, atol=1e-12)


def test_with_stride_is_its_skip_when_its_last_conv_is_zero():
    block = random_convolutions(ResidualBlockWithStride(3, 4), seed=6)
    with torch.no_grad():
        block.conv2.weight.zero_()
        block.conv2.bias.zero_()
    x = torch.randn(1, 3, 6, 9, dtype=torch.float64)
    skip = torch.einsum("oi,bihw->bohw", block.skip.weight[:, :, 0, 0], x[..., ::2, ::2])
    skip = skip + block.skip.bias[None, :, None, None]
    torch.testing.assert_close(block(x), skip, rtol=1e-12, atol=1e-12)


# --- sub-pixel convolution and ResidualBlockUpsample -----------------------------------------


def test_subpixel_layout_equals_index_formula():
    # r = 3 on a non-square input, so swapping the row and column offsets shows.
    r, c_in, c_out, h, w = 3, 2, 2, 2, 3
    layer = random_convolutions(subpixel_conv(c_in, c_out, r), seed=7)
    x = torch.randn(1, c_in, h, w, dtype=torch.float64)
    z = _conv(x, layer[0])
    out = layer(x)
    assert out.shape == (1, c_out, h * r, w * r)
    for c in range(c_out):
        for y in range(h * r):
            for xx in range(w * r):
                source = z[0, c * r * r + (y % r) * r + (xx % r), y // r, xx // r]
                assert out[0, c, y, xx] == source
    assert torch.equal(out, _depth_to_space(z, r))


@pytest.mark.parametrize("upsample", [1, 2, 3])
@pytest.mark.parametrize("hw", [(4, 6), (5, 7), (1, 1)])
def test_upsample_shape(upsample, hw):
    block = ResidualBlockUpsample(4, 3, upsample)
    out = block(torch.randn(2, 4, *hw))
    assert out.shape == (2, 3, hw[0] * upsample, hw[1] * upsample)


@pytest.mark.parametrize("upsample", [2, 3])
def test_upsample_equals_formula(upsample):
    block = random_convolutions(ResidualBlockUpsample(4, 3, upsample), seed=8)
    x = torch.randn(2, 4, 3, 5, dtype=torch.float64)
    out = F.leaky_relu(_depth_to_space(_conv(x, block.subpel[0]), upsample), SLOPE)
    out = _gdn(_conv(out, block.conv), block.igdn, inverse=True)
    skip = _depth_to_space(_conv(x, block.skip[0]), upsample)
    torch.testing.assert_close(block(x), out + skip, rtol=1e-12, atol=1e-12)


def test_upsample_is_its_skip_when_its_last_conv_is_zero():
    block = random_convolutions(ResidualBlockUpsample(4, 3), seed=9)
    with torch.no_grad():
        block.conv.weight.zero_()
        block.conv.bias.zero_()
    x = torch.randn(1, 4, 3, 4, dtype=torch.float64)
    torch.testing.assert_close(
        block(x), _depth_to_space(_conv(x, block.skip[0]), 2), rtol=1e-12, atol=1e-12
    )


# --- receptive fields, as documented ---------------------------------------------------------

# Each block with the input pixels, per axis, that its docstring says output o of n reads.
RECEPTIVE_FIELDS = {
    "bottleneck": (lambda: ResidualBottleneck(16), lambda o, n: _span(o - 1, o + 1)),
    "block": (lambda: ResidualBlock(16, 16), lambda o, n: _span(o - 2, o + 2)),
    "stride2": (lambda: ResidualBlockWithStride(16, 16, 2), _strided(2)),
    "stride3": (lambda: ResidualBlockWithStride(16, 16, 3), _strided(3)),
    "stride4": (lambda: ResidualBlockWithStride(16, 16, 4), _strided(4)),
    "subpixel2": (lambda: subpixel_conv(16, 16, 2), lambda o, n: _span(o // 2 - 1, o // 2 + 1)),
    "upsample2": (
        lambda: ResidualBlockUpsample(16, 16, 2),
        lambda o, n: _span((o - 1) // 2 - 1, (o + 1) // 2 + 1),
    ),
    "upsample3": (
        lambda: ResidualBlockUpsample(16, 16, 3),
        lambda o, n: _span((o - 1) // 3 - 1, (o + 1) // 3 + 1),
    ),
}


def test_stride_two_window_is_the_documented_range():
    # For s = 2 (and 3) the pixels read are the whole range 2i − 3 … 2i + 3 away from the end.
    assert _strided(2)(4, 10) == _span(5, 11) and _strided(3)(4, 10) == _span(8, 16)
    assert 10 not in _strided(4)(2, 10)  # s = 4: the 3×3 kernel skips 4j + 2


@pytest.mark.parametrize("name", list(RECEPTIVE_FIELDS))
@pytest.mark.parametrize("pixel", [(5, 6), (0, 0), (11, 11), (3, 10), (6, 2)])
def test_receptive_field_is_as_documented(name, pixel):
    make, reads = RECEPTIVE_FIELDS[name]
    block = random_convolutions(make(), seed=10)
    changed = _changed(block, (1, 16, 12, 12), pixel)
    with torch.no_grad():
        out_hw = tuple(block(torch.zeros(1, 16, 12, 12, dtype=torch.float64)).shape[2:])
    assert changed == _predicted(reads, out_hw, pixel)


# --- sizes and argument checks ---------------------------------------------------------------


def _conv_params(k: int, c_in: int, c_out: int) -> int:
    return k * k * c_in * c_out + c_out


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_at_192_channels():
    c, h, gdn = 192, 96, 192 + 192 * 192
    bottleneck = _conv_params(1, c, h) + _conv_params(3, h, h) + _conv_params(1, h, c)
    assert _count(ResidualBottleneck(c)) == bottleneck == 120_192
    assert _count(ResidualBlock(c, c)) == 2 * _conv_params(3, c, c) == 663_936
    assert _count(ResidualBlock(c, 2 * c)) == (
        _conv_params(3, c, 2 * c) + _conv_params(3, 2 * c, 2 * c) + _conv_params(1, c, 2 * c)
    )
    stride = 2 * _conv_params(3, c, c) + gdn + _conv_params(1, c, c)
    assert _count(ResidualBlockWithStride(c, c)) == stride == 738_048
    upsample = 2 * _conv_params(3, c, 4 * c) + _conv_params(3, c, c) + gdn
    assert _count(ResidualBlockUpsample(c, c)) == upsample == 3_024_768


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: ResidualBottleneck(7), "even channels"),
        (lambda: ResidualBottleneck(0), "positive integer channels, got 0"),
        (lambda: ResidualBottleneck(4.0), "positive integer channels"),
        (lambda: ResidualBlock(0, 4), "positive integer in_channels"),
        (lambda: ResidualBlock(4, -1), "positive integer out_channels"),
        (lambda: ResidualBlockWithStride(4, 4, 0), "positive integer stride"),
        (lambda: ResidualBlockWithStride(4, 4, True), "positive integer stride"),
        (lambda: ResidualBlockUpsample(4, 4, 0), "positive integer upsample"),
        (lambda: subpixel_conv(4, 0, 2), "positive integer out_channels"),
    ],
)
def test_bad_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_a_training_step_of_the_down_sampling_block_on_channels_last_pixels_survives():
    """The first block of cheng2020's analysis sees 3-channel channels_last pixels in training:
    with its skip as a strided 1×1 convolution, PyTorch 2.13's CPU backward corrupted the heap
    and killed the process (run in a child, so a crash fails this test instead of the suite)."""
    script = (
        "import torch\n"
        "from lic.layers import ResidualBlockWithStride\n"
        "torch.set_num_threads(1)\n"
        "block = ResidualBlockWithStride(3, 24)\n"
        "x = torch.rand(2, 3, 128, 128).contiguous(memory_format=torch.channels_last)\n"
        "for _ in range(3):\n"
        "    block(x).pow(2).mean().backward()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-500:]
