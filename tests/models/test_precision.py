"""Coding precision (lic.models.base): the σ that pick the coder tables, and the μ fed back
into the context models, come out the same whichever convolution backend computes them: a file
decodes on another CPU, thread count or PyTorch build."""

import warnings
from contextlib import contextmanager

import pytest
import torch

from lic.models import (
    ChannelSlices,
    Checkerboard,
    JointAutoregressive,
    MeanScaleHyperprior,
    ScaleHyperprior,
)
from tests.conftest import tiny
from tests.models.test_roundtrip import _image

GAUSSIAN = [ScaleHyperprior, MeanScaleHyperprior, JointAutoregressive, Checkerboard, ChannelSlices]

pytestmark = pytest.mark.skipif(
    not torch.backends.mkldnn.is_available(), reason="needs oneDNN as a second conv backend"
)


@contextmanager
def _backend(onednn: bool):
    """PyTorch's oneDNN convolutions, or its native ones: two ways to round the same sums."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a TF32 notice irrelevant on CPU
        with torch.backends.mkldnn.flags(enabled=onednn):
            yield


def _decode(model, compressed, q, onednn: bool, monkeypatch):
    """Decode under one backend; returns ŷ and every σ handed to the coder's table lookup."""
    scales, lookup = [], type(model.entropy_y).indices
    monkeypatch.setattr(
        model.entropy_y, "indices", lambda s: scales.append(s.clone()) or lookup(model.entropy_y, s)
    )
    with _backend(onednn):
        y_hat = model.decode_latents(
            model.decoders(compressed.streams, compressed.shapes), compressed.shapes, q
        )
    monkeypatch.undo()
    return y_hat, scales


@pytest.mark.parametrize("cls", GAUSSIAN, ids=lambda cls: cls.__name__)
def test_coder_scales_do_not_depend_on_the_convolution_backend(cls, monkeypatch):
    model = tiny(cls, rate_points=8)
    x = _image(96, 160, model.stride)
    q = model.quality_tensor(3.5, 1)
    compressed = model.compress(x, 3.5)
    with torch.no_grad():
        z_hat = torch.round(model._latents(x, q)[1])
        outputs = []
        for onednn in (True, False):  # float32: the backends round differently ...
            with _backend(onednn):
                outputs.append(model.hyper_synthesis(model.inverse_gain("z", z_hat, q)))
    assert not torch.equal(*outputs), "the two backends agree in float32: this test proves nothing"
    y_a, scales_a = _decode(model, compressed, q, True, monkeypatch)
    y_b, scales_b = _decode(model, compressed, q, False, monkeypatch)
    # ... float64 (what coding uses) agrees to ~1e-15, far inside the scale table's 6% steps.
    assert len(scales_a) == len(scales_b) > 0
    for a, b in zip(scales_a, scales_b):
        assert a.dtype == torch.float64
        assert torch.max(torch.abs(a - b) / torch.abs(a).clamp(min=1e-3)) < 1e-12
    assert torch.allclose(y_a, y_b, rtol=0, atol=1e-9)
