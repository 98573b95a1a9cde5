"""Context models never see the current or a future symbol."""

import torch

from lic.layers import MaskedConv2d, checkerboard
from lic.models import ChannelSlices, Checkerboard, JointAutoregressive
from tests.conftest import tiny


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


def _likelihoods(model, y, hyper):
    with torch.no_grad():
        return model.y_forward(y, hyper)[1]


def test_checkerboard_never_sees_its_own_phase_or_the_other_pass():
    model = tiny(Checkerboard)
    y = torch.randn(1, 24, 6, 8) * 3
    hyper = torch.randn(1, 48, 6, 8)
    anchor = checkerboard(6, 8, anchor=True)
    base = _likelihoods(model, y, hyper)
    # Moving every non-anchor leaves every anchor's likelihood unchanged ...
    moved = _likelihoods(model, torch.where(anchor, y, y + 5), hyper)
    assert torch.equal(
        moved.masked_select(anchor.expand_as(y)), base.masked_select(anchor.expand_as(y))
    )
    # ... and one non-anchor's value changes no other non-anchor's parameters.
    one = y.clone()
    one[:, :, 2, 3] += 5  # (2 + 3) odd: a non-anchor
    changed = (_likelihoods(model, one, hyper) - base).abs().sum(1)[0] > 0
    assert changed[2, 3] and changed.sum() == 1
    # The non-anchors do see the anchors.
    moved = _likelihoods(model, torch.where(anchor, y + 5, y), hyper)
    assert not torch.equal(
        moved.masked_select(~anchor.expand_as(y)), base.masked_select(~anchor.expand_as(y))
    )


def test_channel_slices_depend_only_on_earlier_slices():
    model = tiny(ChannelSlices)
    y = torch.randn(1, 24, 4, 5) * 3
    hyper = torch.randn(1, 48, 4, 5)
    base = _likelihoods(model, y, hyper).chunk(model.slices, 1)
    width = 24 // model.slices
    for i in range(model.slices):
        later = y.clone()
        later[:, (i + 1) * width :] += 5
        moved = _likelihoods(model, later, hyper).chunk(model.slices, 1)
        assert all(torch.equal(moved[j], base[j]) for j in range(i + 1))
        if i + 1 < model.slices:
            assert not torch.equal(moved[i + 1], base[i + 1])


def test_sequential_coding_context_equals_the_parallel_training_context():
    """The raster loop (12-tap window per position) computes what the masked conv computes."""
    model = tiny(JointAutoregressive)
    y = torch.randn(1, 24, 5, 6) * 3
    hyper = torch.randn(1, 48, 5, 6)
    with torch.no_grad():
        y_hat, scales, means = model._serial(hyper, y=y)
        context = model.context_prediction(y_hat)
        parallel = model.entropy_parameters(torch.cat([hyper, context], 1)).chunk(2, 1)
    assert torch.allclose(scales, parallel[0], atol=1e-5)
    assert torch.allclose(means, parallel[1], atol=1e-5)
    # ŷ is y rounded around its (sequentially predicted) mean.
    assert torch.equal(y_hat, torch.round(y - means) + means)


def test_checkerboard_mixed_training_sees_the_latents_as_coded():
    """With straight-through rounding, the training pass gives the synthesis the ŷ that the
    coder's two passes give (up to float32 against float64 parameters), context included."""
    model = tiny(Checkerboard)
    y = torch.randn(1, 24, 6, 8) * 3
    hyper = torch.randn(1, 48, 6, 8)
    with torch.no_grad():
        coded = model.y_forward(y, hyper)[0]
        model.train()
        model.entropy_y.straight_through = True
        mixed = model.y_forward(y, hyper)[0]
        model.entropy_y.straight_through = False
        noisy = model.y_forward(y, hyper)[0]
    assert torch.allclose(mixed, coded, atol=1e-4)
    assert not torch.allclose(noisy, coded, atol=1e-2)
