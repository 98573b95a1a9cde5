"""Training: the rate–distortion loss, the crop sampler, the loop and its configuration.

`TrainConfig` imports without torch (the command line builds its options from it); the loop
loads on first use of `train` or `export`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from lic.train.config import TrainConfig

__all__ = ["TrainConfig", "export", "train"]


def __getattr__(name: str) -> Any:
    if name in ("train", "export"):
        return getattr(import_module("lic.train.loop"), name)
    raise AttributeError(f"module 'lic.train' has no attribute {name!r}")
