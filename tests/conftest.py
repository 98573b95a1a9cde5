"""Shared fixtures: tiny models, synthetic photo-like images, the Kodak folder when present."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lic.models import REGISTRY, FactorizedPrior, ScaleHyperprior

SHARED = Path(__file__).resolve().parents[2] / "shared"
KODAK = SHARED / "data" / "kodak"


def synthetic_photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A uint8 RGB image with smooth regions, edges and texture, like a small photo."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack(
        [
            128 + 90 * np.sin(xx / 17 + rng.uniform(0, 6)),
            128 + 90 * np.cos(yy / 23 + rng.uniform(0, 6)),
            128 + 60 * np.sin((xx + yy) / 31),
        ],
        -1,
    )
    base[(xx - width / 2) ** 2 + (yy - height / 2) ** 2 < (min(height, width) / 4) ** 2] *= 0.5
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


def tiny(cls: type, rate_points: int = 0, seed: int = 0) -> torch.nn.Module:
    """Model class `cls` at its smallest sizes (`small_sizes`), in eval mode; fixed-rate ones
    at quality 1."""
    torch.manual_seed(seed)
    quality = None if rate_points else 1
    gains = {"rate_points": rate_points} if rate_points else {}
    return cls(**cls.small_sizes, **gains, quality=quality).eval()


def has_variable_rate(cls: type) -> bool:
    """Whether model class `cls` can be built variable-rate: its constructor takes
    `rate_points` (gain units). A model trained to one target rate (mentzer2018) cannot."""
    return "rate_points" in inspect.signature(cls).parameters


def random_convolutions(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """`module` in float64 with every convolution's parameters redrawn (so that no weight is
    near-symmetric and a wrong formula cannot agree by accident)."""
    torch.manual_seed(seed)
    module = module.double()
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, torch.nn.Conv2d):
                layer.weight.normal_(0, 1 / math.sqrt(layer.weight[0].numel()))
                layer.bias.normal_(0, 0.1)
    return module


#: Every registered model class (the registry's families), each test of all models runs on.
MODEL_CLASSES = sorted({spec.builder for spec in REGISTRY.values()}, key=lambda c: c.__name__)


@pytest.fixture(params=[FactorizedPrior, ScaleHyperprior], ids=["factorized", "hyperprior"])
def tiny_model(request) -> torch.nn.Module:
    return tiny(request.param)


@pytest.fixture
def photo() -> Image.Image:
    return Image.fromarray(synthetic_photo(96, 160))


@pytest.fixture
def kodak() -> Path:
    if not (KODAK / "kodim01.png").exists():
        pytest.skip(f"Kodak images not found at {KODAK} (../shared is absent)")
    return KODAK
