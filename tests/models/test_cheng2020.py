"""cheng2020-anchor and cheng2020-attn (Cheng et al. 2020): both contexts round-trip exactly;
the attention model codes a mixture of three Gaussians, the anchor one Gaussian."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from lic.codec import decode, encode, pad
from lic.contexts import Checkerboard, Raster
from lic.entropy import GaussianConditional, GaussianMixtureConditional
from lic.layers import AttentionBlock
from lic.models import Cheng2020Anchor, Cheng2020Attention
from tests.conftest import synthetic_photo


@pytest.mark.parametrize("cls", [Cheng2020Anchor, Cheng2020Attention])
@pytest.mark.parametrize("context", ["checkerboard", "raster"])
def test_both_contexts_round_trip_exactly_on_an_odd_size(cls, context):
    """A 70×45 photo (padded to 128×64): ŷ decoded equals the eval forward's, the image equals
    its reconstruction, and a real file decodes to the photo's size."""
    torch.manual_seed(1)
    model = cls(N=24, rate_points=9, context=context).eval()
    photo = synthetic_photo(45, 70)
    x = pad(torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255, model.stride)
    with torch.no_grad():
        expected = model(x, 3.5)
    compressed = model.compress(x, 3.5)
    decoders = model.decoders(compressed.streams, compressed.shapes)
    y_hat = model.decode_latents(decoders, compressed.shapes, model.quality_tensor(3.5, 1))
    assert torch.equal(y_hat, expected.y_hat.float())
    x_hat = model.decompress(compressed.streams, compressed.shapes, 3.5)
    assert torch.equal(x_hat, expected.x_hat.clamp(0, 1))
    assert decode(encode(model, Image.fromarray(photo), 3.5), model).size == (70, 45)
    # The mixture codes round(y); the single Gaussian round(y − μ) + μ.
    assert torch.equal(y_hat, y_hat.round()) == (cls is Cheng2020Attention)


def test_the_models_are_built_as_the_paper_describes():
    anchor, attention = Cheng2020Anchor(N=24), Cheng2020Attention(N=24)
    assert type(anchor.entropy_y) is GaussianConditional
    assert isinstance(attention.entropy_y, GaussianMixtureConditional)
    assert attention.entropy_y.parameters_per_latent == 9  # K = 3: weights, means, scales
    assert attention.context.entropy_parameters[-1].out_channels == 9 * 24
    assert anchor.context.entropy_parameters[-1].out_channels == 2 * 24
    blocks = [m for m in attention.modules() if isinstance(m, AttentionBlock)]
    assert len(blocks) == 4 and not any(isinstance(m, AttentionBlock) for m in anchor.modules())
    assert isinstance(anchor.context, Checkerboard)
    assert isinstance(Cheng2020Anchor(N=24, context="raster").context, Raster)
    with pytest.raises(ValueError, match="context"):
        Cheng2020Anchor(N=24, context="channels")
    x = torch.rand(1, 3, 64, 128)
    with torch.no_grad():
        y = anchor.analyze(x, None)
    assert y.shape == (1, 24, 4, 8)
