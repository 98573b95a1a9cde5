"""Continuous quality and compress-to-target (issue: one model for every rate)."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

import lic.ratecontrol as ratecontrol
from lic.codec import decode, encode, model_for
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


@pytest.fixture
def encodes(monkeypatch) -> list[float]:
    """The qualities the search encodes at, in order."""
    seen: list[float] = []
    original = ratecontrol.encode_image

    def counting(model, image, quality, **options):
        seen.append(quality)
        return original(model, image, quality, **options)

    monkeypatch.setattr(ratecontrol, "encode_image", counting)
    return seen


def _best_size(model, image, target: int, quality: float) -> bool:
    """Within SIZE_SLACK of the target, or the quality a tolerance step up no longer fits."""
    size = len(encode(model, image, quality))
    if size >= (1 - ratecontrol.SIZE_SLACK) * target:
        return True
    return len(encode(model, image, quality + ratecontrol.QUALITY_TOLERANCE)) > target


@pytest.mark.parametrize("seed", [7, 8, 9])
@pytest.mark.parametrize("share", [0.1, 0.4, 0.8])
def test_size_target_is_met_by_nearly_the_largest_quality_that_fits(trained, seed, share, encodes):
    image = Image.fromarray(synthetic_photo(128, 192, seed=seed))
    low, high = len(encode(trained, image, 1.0)), len(encode(trained, image, 8.0))
    target = int(low + share * (high - low))
    encodes.clear()
    result = compress_to_size(trained, image, target)
    assert len(result.data) <= target
    assert result.data == encode(trained, image, result.quality)
    # The tiny model's sizes are a staircase of a few bytes whose steps differ from machine to
    # machine (its training does): the number of encodes is bounded here, and measured on
    # smooth curves below.
    assert len(encodes) <= ratecontrol.MAX_ENCODES, encodes
    assert _best_size(trained, image, target, result.quality)
    assert decode(result.data, trained).size == image.size


#: Log-size curves of a quality (bytes = exp(curve)): log-linear as on Kodak, bent either way,
#: and flat at first.
CURVES = {
    "log-linear": lambda q: 2000 * math.exp(0.37 * q),
    "convex": lambda q: 1500 * math.exp(0.25 * q + 0.03 * q * q),
    "concave": lambda q: 800 * math.exp(0.6 * q - 0.03 * q * q),
    "flat at first": lambda q: 3000 + 400 * max(q - 1.5, 0) ** 2,
}


@pytest.mark.parametrize("curve", CURVES)
@pytest.mark.parametrize("share", [0.03, 0.1, 0.25, 0.5, 0.75, 0.9, 0.97])
def test_size_search_needs_few_encodes_on_smooth_curves(trained, monkeypatch, curve, share):
    """The search itself, on sizes that are a known function of the quality (the same on every
    machine): at most 6 encodes, and the file is the best the tolerances allow."""
    size = CURVES[curve]
    seen: list[float] = []

    def fake_encode(model, image, quality, **options):
        seen.append(quality)
        return bytes(round(size(quality)))

    monkeypatch.setattr(ratecontrol, "encode_image", fake_encode)
    low, high = size(1.0), size(8.0)
    target = int(low + share * (high - low))
    result = compress_to_size(trained, Image.new("RGB", (64, 64)), target)
    assert len(result.data) <= target
    tolerance = ratecontrol.QUALITY_TOLERANCE
    fits = len(result.data) >= (1 - ratecontrol.SIZE_SLACK) * target
    assert fits or size(result.quality + tolerance) > target, (result.quality, seen)
    assert len(seen) <= 6, seen


def test_bpp_target_is_met_by_nearly_the_largest_quality_that_fits(trained, image):
    pixels = 128 * 192
    target = 8 * (len(encode(trained, image, 2.0)) + 0.5) / pixels
    result = compress_to_bpp(trained, image, target)
    assert 8 * len(result.data) / pixels <= target
    assert _best_size(trained, image, int(target * pixels / 8), result.quality)


def test_targets_are_searched_over_refined_files(image):
    """With `refine`, every encode of the search is refined: the file returned is the refined
    file at the quality found, within the size."""
    model, _ = model_for("he2021-checkerboard-vr", 4.0)
    target = len(encode(model, image, 3.0, refine=5))
    result = compress_to_size(model, image, target, refine=5)
    assert result.data == encode(model, image, result.quality, refine=5)
    assert result.data != encode(model, image, result.quality)


def test_unreachable_targets_are_reported(trained, image):
    with pytest.raises(LicError, match=r"cannot fit .* lowest quality \(1\)"):
        compress_to_size(trained, image, 10)
    with pytest.raises(LicError, match="cannot reach"):
        compress_to_psnr(trained, image, 99.0)


@pytest.mark.parametrize("share", [0.2, 0.5, 0.9])
def test_psnr_target_is_reached_by_nearly_the_smallest_quality_that_does(image, share, encodes):
    """On a trained model (the tiny one's PSNR is not monotone in the quality)."""
    model, _ = model_for("bmshj2018-factorized-vr", 4.0)
    _, quality = _sweep(model, image, [1.0, 8.0])
    target = quality[0] + share * (quality[1] - quality[0])
    encodes.clear()
    result = compress_to_psnr(model, image, target)
    assert len(encodes) <= 8, encodes
    reference = np.array(image)
    reached = psnr(reference, np.array(decode(result.data, model)))
    assert reached >= target and result.psnr == reached
    if reached > target + ratecontrol.PSNR_SLACK:  # else close enough: a step down must miss
        below = encode(model, image, result.quality - ratecontrol.QUALITY_TOLERANCE)
        assert psnr(reference, np.array(decode(below, model))) < target


def test_parse_size():
    assert parse_size("50KB") == 50_000 and parse_size("48KiB") == 49_152
    assert parse_size("1200") == 1200 and parse_size("0.5 MB") == 500_000
    with pytest.raises(LicError):
        parse_size("fifty")
