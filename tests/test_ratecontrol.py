"""Continuous quality and compress-to-target (issue: one model for every rate)."""

import numpy as np
import pytest
import torch
from PIL import Image

from lic.codec import decode, encode
from lic.errors import LicError
from lic.evaluate.metrics import psnr
from lic.models.registry import get_spec, load, load_weights, shipped
from lic.ratecontrol import compress_to_bpp, compress_to_psnr, compress_to_size, parse_size
from lic.train import TrainConfig, export, train
from tests.conftest import synthetic_photo


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> torch.nn.Module:
    """A tiny variable-rate hyperprior trained for a few seconds on synthetic photos."""
    folder = tmp_path_factory.mktemp("rc")
    for i in range(3):
        Image.fromarray(synthetic_photo(96, 96, seed=i)).save(folder / f"p{i}.png")
    config = TrainConfig(
        model="bmshj2018-hyperprior-vr",
        data=str(folder),
        out=str(folder / "run"),
        steps=120,
        batch=4,
        crop=64,
        channels=(16, 24),
        lr=2e-3,
        threads=2,
        progress=False,
        max_short_side=None,
        log_every=1000,
    )
    export(train(config), folder / "w.safetensors")
    spec = get_spec("bmshj2018-hyperprior-vr")
    model = spec.builder(N=16, M=24, rate_points=8)
    load_weights(model, folder / "w.safetensors")
    model.name, model.quality = spec.name, None
    return model.eval()


@pytest.fixture(scope="module")
def image() -> Image.Image:
    return Image.fromarray(synthetic_photo(128, 192, seed=7))


def _sweep(model, image, qualities):
    reference = np.array(image)
    sizes, quality = [], []
    for q in qualities:
        data = encode(model, image, q)
        sizes.append(len(data))
        quality.append(psnr(reference, np.array(decode(data, model))))
    return sizes, quality


def test_rate_is_monotone_in_continuous_quality(trained, image):
    sizes, _ = _sweep(trained, image, np.linspace(1, 8, 15))
    assert all(b > a for a, b in zip(sizes, sizes[1:])), sizes


def test_shipped_model_is_monotone_in_rate_and_psnr_on_a_real_photo(kodak):
    spec = get_spec("bmshj2018-hyperprior-vr")
    if not shipped(spec):
        pytest.skip("bmshj2018-hyperprior-vr has no shipped weights")
    model = load(spec.name)
    image = Image.open(kodak / "kodim23.png").convert("RGB").crop((0, 0, 384, 256))
    sizes, quality = _sweep(model, image, [1, 1.5, 2, 3, 3.5, 4, 5, 6, 6.5, 7, 8])
    assert all(b > a for a, b in zip(sizes, sizes[1:])), sizes
    assert all(b > a for a, b in zip(quality, quality[1:])), quality


def _resolution(model, steps: int = 12) -> float:
    """The quality step the search resolves: its bisection halves [lowest, 8] `steps` times."""
    return (8 - model.lowest_quality) / 2**steps


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_size_target_is_met_by_the_largest_quality_that_fits(trained, seed):
    image = Image.fromarray(synthetic_photo(128, 192, seed=seed))
    low, high = len(encode(trained, image, 1.0)), len(encode(trained, image, 8.0))
    target = int(low + 0.4 * (high - low))
    result = compress_to_size(trained, image, target)
    assert len(result.data) <= target
    assert result.data == encode(trained, image, result.quality)
    # The best file that fits: one resolution step up in quality no longer does.
    assert len(encode(trained, image, result.quality + _resolution(trained))) > target
    assert decode(result.data, trained).size == image.size


def test_bpp_target_is_met_by_the_largest_quality_that_fits(trained, image):
    pixels = 128 * 192
    # Half a byte over quality 2's file: the byte budget is that file's size whatever the
    # float rounding of bpp · pixels / 8.
    target = 8 * (len(encode(trained, image, 2.0)) + 0.5) / pixels
    result = compress_to_bpp(trained, image, target)
    assert 8 * len(result.data) / pixels <= target
    above = encode(trained, image, result.quality + _resolution(trained))
    assert 8 * len(above) / pixels > target


def test_unreachable_targets_are_reported(trained, image):
    with pytest.raises(LicError, match=r"cannot fit .* lowest quality \(1\)"):
        compress_to_size(trained, image, 10)
    with pytest.raises(LicError, match="cannot reach"):
        compress_to_psnr(trained, image, 99.0)


def test_psnr_target_is_reached_by_the_smallest_quality_that_does(trained, image):
    _, quality = _sweep(trained, image, [1.0, 8.0])
    target = (quality[0] + quality[1]) / 2
    result = compress_to_psnr(trained, image, target)
    reference = np.array(image)
    assert psnr(reference, np.array(decode(result.data, trained))) >= target
    # The smallest file that reaches it: one resolution step down in quality falls short.
    below = encode(trained, image, result.quality - _resolution(trained))
    assert psnr(reference, np.array(decode(below, trained))) < target


def test_parse_size():
    assert parse_size("50KB") == 50_000 and parse_size("48KiB") == 49_152
    assert parse_size("1200") == 1200 and parse_size("0.5 MB") == 500_000
    with pytest.raises(LicError):
        parse_size("fifty")
