"""Context models never see the current or a future symbol, and code exactly what they decode."""

import math

import pytest
import torch
from torch import nn

from lic.coding import Decoder, Encoder
from lic.contexts import Checkerboard, MeanScale, Raster, ScaleOnly, Slices, SpaceChannel
from lic.contexts.channels import channel_ramp, elic_groups
from lic.layers import MaskedConv2d, checkerboard
from lic.models.mbt2018 import entropy_parameters

C = 24  # channels of y in these tests; ψ has 2C


def _contexts() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {
        "scale-only": ScaleOnly(),
        "mean-scale": MeanScale(),
        "checkerboard": Checkerboard(C, entropy_parameters(C)),
        "raster": Raster(C, entropy_parameters(C)),
        "slices": Slices(C, 4),
        "space-channel": SpaceChannel(2 * C, (4, 4, 8, 8)),
    }


def _psi(name: str, height: int, width: int) -> torch.Tensor:
    psi = torch.randn(1, 2 * C, height, width, dtype=torch.float64)
    return psi.abs()[:, :C] + 0.5 if name == "scale-only" else psi


def _likelihoods(context: nn.Module, y: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return context.eval()(y, psi)[1]


@pytest.mark.parametrize("name", list(_contexts()))
def test_every_context_decodes_exactly_what_it_coded(name):
    """Odd sizes, values far in the tables' tails too; ŷ decoded equals the encoder's and the
    eval forward's."""
    context = _contexts()[name].eval()
    torch.manual_seed(1)
    y = torch.randn(1, C, 7, 9) * 4
    psi = _psi(name, 7, 9)
    encoder = Encoder()
    with torch.no_grad():
        coded = context.compress(encoder, y, psi)
        forward, likelihood = context(y, psi)
    stream = encoder.finish()
    decoded = context.decompress(Decoder(stream, y.numel()), psi)
    assert torch.equal(decoded.double(), coded.double())
    assert torch.equal(forward.double(), coded.double())


@pytest.mark.parametrize("name", ["scale-only", "mean-scale"])
def test_coded_size_is_the_likelihoods_information(name):
    """Latents drawn from the Gaussians ψ describes: the stream (less its end mark) is within 1%
    of Σ −log₂ p of the eval forward."""
    context = _contexts()[name].eval()
    torch.manual_seed(2)
    scales = torch.rand(1, C, 40, 50, dtype=torch.float64) * 8 + 0.2
    means = torch.randn(1, C, 40, 50, dtype=torch.float64) * 3
    y = (means + scales * torch.randn(scales.shape, dtype=torch.float64)).float()
    psi = scales if name == "scale-only" else torch.cat([scales, means], 1)
    if name == "scale-only":
        y = y - means.float()
    encoder = Encoder()
    with torch.no_grad():
        context.compress(encoder, y, psi)
        likelihood = context(y, psi)[1]
    bits = float(-torch.log2(likelihood.double()).sum())
    assert abs(8 * len(encoder.finish()) - 32 - bits) <= 0.01 * bits


def test_raster_context_sees_only_earlier_positions():
    torch.manual_seed(0)
    conv = MaskedConv2d(3, 4, 5, kind="raster")
    x = torch.randn(1, 3, 7, 9)
    base = conv(x).detach()
    for h, w in [(0, 0), (3, 4), (6, 8), (2, 0)]:
        perturbed = x.clone()
        perturbed[:, :, h, w] += 10
        changed = (conv(perturbed).detach() - base).abs().sum(1)[0] > 0
        order = torch.arange(7 * 9).reshape(7, 9)
        # Nothing at or before (h, w) in raster order may change; the next position must.
        assert not changed[order <= h * 9 + w].any()
        if w + 1 < 9:
            assert changed[h, w + 1]


def test_checkerboard_never_sees_its_own_phase_or_the_other_pass():
    context = _contexts()["checkerboard"]
    y = torch.randn(1, C, 6, 8) * 3
    psi = _psi("checkerboard", 6, 8)
    anchor = checkerboard(6, 8, anchor=True)
    base = _likelihoods(context, y, psi)
    # Moving every non-anchor leaves every anchor's likelihood unchanged ...
    moved = _likelihoods(context, torch.where(anchor, y, y + 5), psi)
    assert torch.equal(
        moved.masked_select(anchor.expand_as(y)), base.masked_select(anchor.expand_as(y))
    )
    # ... and one non-anchor's value changes no other non-anchor's parameters.
    one = y.clone()
    one[:, :, 2, 3] += 5  # (2 + 3) odd: a non-anchor
    changed = (_likelihoods(context, one, psi) - base).abs().sum(1)[0] > 0
    assert changed[2, 3] and changed.sum() == 1
    # The non-anchors do see the anchors.
    moved = _likelihoods(context, torch.where(anchor, y + 5, y), psi)
    assert not torch.equal(
        moved.masked_select(~anchor.expand_as(y)), base.masked_select(~anchor.expand_as(y))
    )


def test_channel_slices_depend_only_on_earlier_slices():
    context = _contexts()["slices"]
    y = torch.randn(1, C, 4, 5) * 3
    psi = _psi("slices", 4, 5)
    base = _likelihoods(context, y, psi).split(context.sizes, 1)
    start = 0
    for i, size in enumerate(context.sizes):
        start += size
        later = y.clone()
        later[:, start:] += 5
        moved = _likelihoods(context, later, psi).split(context.sizes, 1)
        assert all(torch.equal(moved[j], base[j]) for j in range(i + 1))
        if i + 1 < len(context.sizes):
            assert not torch.equal(moved[i + 1], base[i + 1])


def test_space_channel_groups_see_earlier_groups_and_their_own_anchors_only():
    """ELIC's context: group k's parameters do not change when a later group, or its own
    non-anchors, move; its non-anchors see its anchors and the earlier groups."""
    context = _contexts()["space-channel"]
    y = torch.randn(1, C, 6, 7) * 3
    psi = _psi("space-channel", 6, 7)
    anchor = checkerboard(6, 7, anchor=True)
    base = _likelihoods(context, y, psi)
    edges = [0, *torch.tensor(context.sizes).cumsum(0).tolist()]
    for k in range(len(context.sizes)):
        group = slice(edges[k], edges[k + 1])
        later = y.clone()
        later[:, edges[k + 1] :] += 5
        assert torch.equal(
            _likelihoods(context, later, psi)[:, : edges[k + 1]], base[:, : edges[k + 1]]
        )
        if k + 1 < len(context.sizes):  # a later group does see this one
            earlier = y.clone()
            earlier[:, group] += 5
            moved = _likelihoods(context, earlier, psi)
            assert not torch.equal(moved[:, edges[k + 1] :], base[:, edges[k + 1] :])
        # Own non-anchors move: the group's anchors and other non-anchors keep their likelihood.
        own = y.clone()
        own[:, group] = torch.where(anchor, y[:, group], y[:, group] + 5)
        moved = _likelihoods(context, own, psi)[:, group]
        same = anchor.expand_as(moved)
        assert torch.equal(moved[same], base[:, group][same])
        # Own anchors move: the non-anchors' parameters change.
        own = y.clone()
        own[:, group] = torch.where(anchor, y[:, group] + 5, y[:, group])
        moved = _likelihoods(context, own, psi)[:, group]
        assert not torch.equal(moved[~same], base[:, group][~same])


def test_sequential_coding_context_equals_the_parallel_training_context():
    """The raster loop (12-tap window per position) computes what the masked conv computes."""
    context = _contexts()["raster"]
    y = torch.randn(1, C, 5, 6) * 3
    psi = torch.randn(1, 2 * C, 5, 6)
    with torch.no_grad():
        y_hat, params = context.serial(psi, y=y)
        scales, means = params.chunk(2, 1)
        dense = context.context_prediction(y_hat)
        parallel = context.entropy_parameters(torch.cat([psi, dense], 1)).chunk(2, 1)
    assert torch.allclose(scales, parallel[0], atol=1e-5)
    assert torch.allclose(means, parallel[1], atol=1e-5)
    # ŷ is y rounded around its (sequentially predicted) mean.
    assert torch.equal(y_hat, torch.round(y - means) + means)


def test_checkerboard_mixed_training_sees_the_latents_as_coded():
    """With straight-through rounding, the training pass gives the synthesis the ŷ that the
    coder's two passes give (up to float32 against float64 parameters), context included."""
    context = _contexts()["checkerboard"].eval()
    y = torch.randn(1, C, 6, 8) * 3
    psi = torch.randn(1, 2 * C, 6, 8)
    with torch.no_grad():
        coded = context(y, psi)[0]
        context.train()
        context.entropy.straight_through = True
        mixed = context(y, psi)[0]
        context.entropy.straight_through = False
        noisy = context(y, psi)[0]
    assert torch.allclose(mixed, coded, atol=1e-4)
    assert not torch.allclose(noisy, coded, atol=1e-2)


def test_elic_groups_and_ramps():
    assert elic_groups(320) == (16, 16, 32, 64, 192) and sum(elic_groups(192)) == 192
    with pytest.raises(ValueError):
        elic_groups(128)
    ramp = channel_ramp(30, 60, 5)
    widths = [m.out_channels for m in ramp if isinstance(m, nn.Conv2d)]
    assert widths == [40, 50, 60] and math.prod(ramp[0].kernel_size) == 25
