"""Tiled transforms (lic.models.tiling): the untiled result up to float rounding, any tile size,
and the same files and pictures as the untiled path on real photos."""

import numpy as np
import pytest
import torch
from PIL import Image

from lic.codec import decode, encode, model_for
from lic.coding import Encoder
from lic.errors import LicError
from lic.evaluate.metrics import psnr
from lic.models import ELIC, Checkerboard, FactorizedPrior, ScaleHyperprior
from lic.models.tiling import coding_tiles, tiled
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


@pytest.mark.parametrize("cls", [Checkerboard, ELIC])
def test_coding_tiles_decode_exactly_and_are_part_of_the_format(cls):
    """y coded in small coding tiles decodes to exactly the encoder's ŷ with the same tiles;
    read as one grid (as a version-2 file would be) the stream does not give it back."""
    model = tiny(cls)
    x = _x(128, 256)  # latents 8×16: 1×2 coding tiles of 8
    compressed = model.compress(x, coding_tile=8)
    decoders = model.decoders(compressed.streams, compressed.shapes)
    y_hat = model.decode_latents(decoders, compressed.shapes, None, coding_tile=8)
    with torch.no_grad():  # the encoder's ŷ, tile by tile (two tiles side by side)
        y, z = model._latents(x, None)
        z_hat = model.entropy_z.compress(Encoder(), z)
        tiles = coding_tiles(*y.shape[2:], 8)
        expected = torch.cat(
            [
                model.context.compress(Encoder(), y[(..., *at)], model.hyper(z_hat, None, at))
                for at in tiles
            ],
            3,
        )
    assert len(tiles) == 2
    assert torch.equal(y_hat, expected.float())
    again = model.compress(x, coding_tile=8)
    assert again.streams == compressed.streams
    one_grid = model.compress(x, coding_tile=None)
    assert one_grid.streams[0] != compressed.streams[0]
    whole = model.decode_latents(
        model.decoders(one_grid.streams, one_grid.shapes), one_grid.shapes, None, coding_tile=None
    )
    assert (whole - y).abs().max() <= 0.5 + 1e-5 and (y_hat - y).abs().max() <= 0.5 + 1e-5
    with pytest.raises(LicError):
        model.decompress(compressed.streams, compressed.shapes, coding_tile=None)


def test_small_coding_tiles_on_kodak_cost_little(kodak):
    """A large photo's y is coded in 64² tiles, each on its own context: forced to 32² on Kodak
    photos (6 tiles), the file grows < 0.5% and PSNR moves < 0.05 dB against one grid."""
    model, quality = model_for("he2021-checkerboard-vr", 4.0)
    for name in ("kodim01", "kodim23"):  # textured, smooth
        image = np.asarray(Image.open(kodak / f"{name}.png").convert("RGB"))
        x = torch.from_numpy(image.copy()).permute(2, 0, 1)[None]
        sizes, db = [], []
        for tile in (None, 32):
            compressed = model.compress(x, quality, coding_tile=tile)
            out = model.decompress(compressed.streams, compressed.shapes, quality, coding_tile=tile)
            pixels = (out[0].permute(1, 2, 0) * 255).round().byte().numpy()
            sizes.append(sum(map(len, compressed.streams)))
            db.append(psnr(image, pixels))
        assert 0 < sizes[1] - sizes[0] <= 0.005 * sizes[0]
        assert abs(db[1] - db[0]) <= 0.05
