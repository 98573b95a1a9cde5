"""Tiled transforms (lic.models.tiling): the untiled result up to float rounding, any tile size,
and the same files and pictures as the untiled path on real photos."""

import numpy as np
import pytest
import torch
from PIL import Image

from lic.codec import decode, encode, model_for
from lic.evaluate.metrics import psnr
from lic.models import Checkerboard, FactorizedPrior, ScaleHyperprior
from lic.models.tiling import tiled
from tests.conftest import synthetic_photo, tiny


def _x(height: int, width: int) -> torch.Tensor:
    return torch.from_numpy(synthetic_photo(height, width)).permute(2, 0, 1)[None].float() / 255


@pytest.mark.parametrize("tile", [1, 2, 3, 5])
def test_tiled_transforms_equal_the_untiled_ones(tile):
    model = tiny(ScaleHyperprior)
    x = _x(128, 192)  # latents 8×12, z 2×3
    q = None
    with torch.no_grad():
        y, z = model._latents(x, q)
        hyper = model.hyper(torch.round(z), q)
        x_hat = model.synthesize(torch.round(y), q)
        model.tile = model.hyper_tile = tile
        y_t, z_t = model._latents(x, q)
        assert torch.allclose(y_t, y, atol=1e-5) and torch.allclose(z_t, z, atol=1e-5)
        assert torch.allclose(model.hyper(torch.round(z), q), hyper, atol=1e-12)
        assert torch.allclose(model.synthesize(torch.round(y), q), x_hat, atol=1e-5)


def test_the_halo_is_what_makes_tiles_exact():
    """Without a halo each tile sees zeros where its neighbours are: a visible seam."""
    model = tiny(FactorizedPrior)
    x = _x(96, 96)
    with torch.no_grad():
        full = model.analysis(x)
        seams = tiled(model.analysis, x, 16, 1, tile=2, halo=0)
        exact = tiled(model.analysis, x, 16, 1, tile=2, halo=2)
    assert (seams - full).abs().max() > 1e-2
    assert torch.allclose(exact, full, atol=1e-5)


def test_a_transform_may_change_the_dtype_tile_by_tile():
    x = torch.rand(1, 3, 64, 80)
    pixels = tiled(lambda t: torch.round(t * 255).to(torch.uint8), x, 16, 16, tile=1, halo=1)
    assert pixels.dtype == torch.uint8 and torch.equal(pixels, torch.round(x * 255).byte())


@pytest.mark.parametrize("cls", [FactorizedPrior, Checkerboard])
def test_decoded_latents_are_exact_with_tiles(cls):
    model = tiny(cls)
    model.tile, model.hyper_tile = 2, 1
    x = _x(128, 128)
    with torch.no_grad():
        expected = model(x)
    compressed = model.compress(x)
    decoders = model.decoders(compressed.streams, compressed.shapes)
    assert torch.equal(model.decode_latents(decoders, compressed.shapes, None), expected.y_hat)


def _file_and_psnr(model, image: Image.Image, quality: float) -> tuple[int, float]:
    data = encode(model, image, quality)
    return len(data), psnr(np.asarray(image), np.asarray(decode(data, model)))


def test_small_tiles_on_kodak_match_the_untiled_path(kodak, monkeypatch):
    """What a 12-megapixel photo goes through (many tiles), forced on a Kodak image: the same
    file size within 0.5% and PSNR within 0.05 dB (in practice equal)."""
    model, quality = model_for("he2021-checkerboard-vr", 4.0)
    image = Image.open(kodak / "kodim01.png").convert("RGB")
    size, quality_db = _file_and_psnr(model, image, quality)
    monkeypatch.setattr(model, "tile", 8)
    monkeypatch.setattr(model, "hyper_tile", 3)
    tiled_size, tiled_db = _file_and_psnr(model, image, quality)
    assert abs(tiled_size - size) <= 0.005 * size
    assert abs(tiled_db - quality_db) <= 0.05
