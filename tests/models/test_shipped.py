"""Shipped weights: present for the default codec, recorded, and reproducible on Kodak."""

import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from lic.codec import decode, encode, model_for
from lic.defaults import DEFAULT_MODEL
from lic.evaluate.metrics import psnr
from lic.models.registry import REGISTRY, get_spec, load, shipped, weights_digest

SHIPPED = [(name, key) for name, spec in sorted(REGISTRY.items()) for key in shipped(spec)]


def _record(name: str, key: int) -> dict:
    spec = get_spec(name)
    path = spec.weights_path(None if spec.variable_rate else key).with_suffix(".json")
    assert path.exists(), f"{path} must record the Kodak figures of the weights beside it"
    return json.loads(path.read_text())


def test_the_default_codec_ships_weights():
    assert shipped(get_spec(DEFAULT_MODEL)), f"{DEFAULT_MODEL} has no weights in the package"


@pytest.mark.parametrize("name,key", SHIPPED)
def test_every_shipped_model_has_its_record(name, key):
    record = _record(name, key)
    spec = get_spec(name)
    model = load(name, None if spec.variable_rate else key)
    assert record["weights_digest"] == weights_digest(model).hex()
    results = record["kodak"]["results"]
    assert record["kodak"]["images"] == 24
    assert len(results["bpp"]) >= 4 and len(results["psnr-rgb"]) == len(results["bpp"])
    assert len(results["ms-ssim-rgb"]) == len(results["bpp"])
    for field in ("steps", "crop", "batch", "data", "cpu_hours"):
        assert field in record["training"]


@pytest.mark.parametrize("name,key", SHIPPED)
def test_recorded_kodak_figures_are_reproduced(name, key, kodak):
    """Re-encoding a Kodak image gives exactly the recorded file size, and its PSNR.

    The synthesis transform's float sums can round differently with another thread count
    (the records were measured with one thread), moving a few pixels by one level: the PSNR
    is checked to 1e-4 dB, the size exactly."""
    record = _record(name, key)
    quality, rows = next(iter(record["kodak"]["per_image"].items()))
    row = rows[-1]
    image = Image.open(kodak / row["image"])
    model, model_quality = model_for(name, float(quality))
    data = encode(model, image, model_quality)
    assert 8 * len(data) / (image.width * image.height) == pytest.approx(row["bpp"], abs=1e-12)
    decoded = np.array(decode(data, model).convert("RGB"))
    assert psnr(np.array(image.convert("RGB")), decoded) == pytest.approx(row["psnr-rgb"], abs=1e-4)


def test_a_file_decodes_under_another_convolution_backend(kodak):
    """kodim04 at quality 4, written with oneDNN convolutions, read with PyTorch's native ones
    (as another machine would round them): float32 σ sent this file's decoder astray (session 3),
    the float64 coding path gives the same image up to the synthesis' last-bit rounding."""
    if not torch.backends.mkldnn.is_available():
        pytest.skip("needs oneDNN as a second conv backend")
    image = Image.open(kodak / "kodim04.png").convert("RGB")
    model, quality = model_for(DEFAULT_MODEL, 4.0)
    data = encode(model, image, quality)
    here = np.array(decode(data, model), dtype=np.int16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a TF32 notice irrelevant on CPU
        with torch.backends.mkldnn.flags(enabled=False):
            there = np.array(decode(data, model), dtype=np.int16)
    assert np.abs(here - there).max() <= 1 and np.mean(here != there) < 1e-3
