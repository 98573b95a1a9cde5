"""Image ↔ .lic bytes: colour conversion, padding, the model's streams and the container.

This is the one place where the pieces meet: image → tensor (padded to the model's stride)
→ model.compress → container, and back. Greyscale images are coded as three equal channels and
come back greyscale; alpha is dropped and 16-bit or float images are reduced to 8 bits, each
with a `LicWarning`.
"""

from __future__ import annotations

import io
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from lic.bitstream import Header, check_image_size, pack, unpack
from lic.errors import LicError
from lic.models.registry import get_spec, load, weights_digest

DEFAULT_MODEL = "he2021-checkerboard-vr"
DEFAULT_QUALITY = 4.0


class LicWarning(UserWarning):
    """A lossy conversion of the input that the user should know about."""


def open_image(source: str | Path | bytes) -> Image.Image:
    """Read an image file (or its bytes); anything Pillow cannot decode is a LicError."""
    try:
        image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        check_image_size(*image.size)
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise LicError(
            f"cannot read {'the input' if isinstance(source, bytes) else source} as an image"
        ) from None
    return image


def image_to_tensor(image: Image.Image) -> tuple[torch.Tensor, str]:
    """A [1, 3, H, W] float tensor in [0, 1] and the mode to restore ("L" or "RGB")."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        warnings.warn(f"{mode} image reduced to 8 bits per sample", LicWarning, stacklevel=2)
        array = np.asarray(image, dtype=np.float64)
        peak = array.max(initial=0.0)
        # 16-bit samples span 0…65535; float images usually 0…1; 32-bit integers may be 8-bit.
        scale = 255 / 65535 if mode.startswith("I;16") or peak > 255 else 1.0
        if mode == "F" and peak <= 1.0:
            scale = 255.0
        image = Image.fromarray(np.clip(np.round(array * scale), 0, 255).astype(np.uint8))
    elif "A" in mode or (mode == "P" and "transparency" in image.info):
        warnings.warn(f"{mode} image: the alpha channel is dropped", LicWarning, stacklevel=2)
        image = image.convert("RGBA").convert("RGB") if mode != "LA" else image.convert("L")
    grey = image.mode in ("L", "1")
    image = image.convert("L" if grey else "RGB")
    array = torch.from_numpy(np.array(image, dtype=np.uint8))
    x = (array[None].repeat(3, 1, 1) if grey else array.permute(2, 0, 1)).float().div(255)
    return x[None], "L" if grey else "RGB"


def tensor_to_image(x: torch.Tensor, mode: str) -> Image.Image:
    """The 8-bit image of a [1, 3, H, W] tensor; greyscale takes the mean of the channels."""
    x = x[0].clamp(0, 1)
    if mode == "L":
        x = x.mean(0, keepdim=True)
    array = torch.round(x * 255).to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(array[:, :, 0] if mode == "L" else array)


def pad(x: torch.Tensor, stride: int) -> torch.Tensor:
    """Replicate-pad right and bottom up to multiples of `stride` (cheaper to code than zeros)."""
    h, w = x.shape[2:]
    return F.pad(x, (0, -w % stride, 0, -h % stride), mode="replicate")


@lru_cache(maxsize=8)
def cached_model(name: str, quality: float | None, weights: str | None) -> torch.nn.Module:
    """`lic.load`, memoized: the CLI and evaluation code a file after another with one model."""
    return load(name, quality, weights)


def model_for(
    name: str, quality: float, weights: str | None = None
) -> tuple[torch.nn.Module, float | None]:
    """The loaded model for (name, quality) and the quality to pass to its `compress`."""
    spec = get_spec(name)
    if spec.variable_rate:
        return cached_model(name, None, weights), float(quality)
    return cached_model(name, quality, weights), None


def encode(model: torch.nn.Module, image: Image.Image, quality: float | None = None) -> bytes:
    """Compress `image` with `model` (a variable-rate model needs `quality`) into .lic bytes."""
    x, mode = image_to_tensor(image)
    height, width = x.shape[2:]
    check_image_size(width, height)
    compressed = model.compress(pad(x, model.stride), quality)
    header = Header(
        model=model.name,
        quality=float(quality if quality is not None else model.quality),
        weights_digest=weights_digest(model),
        width=width,
        height=height,
        mode=mode,
        shapes=compressed.shapes,
        stream_lengths=[len(s) for s in compressed.streams],
    )
    return pack(header, compressed.streams)


def decode(
    data: bytes, model: torch.nn.Module | None = None, weights: str | None = None
) -> Image.Image:
    """Decode .lic bytes; the model named in the header is loaded unless `model` is given."""
    header, streams = unpack(data)
    if model is None:
        spec = get_spec(header.model)
        quality = header.quality if spec.variable_rate else _fixed_quality(header)
        model, _ = model_for(header.model, quality, weights)
    if header.model != model.name:
        raise LicError(f"file was written by {header.model}, not {model.name}")
    quality = float(header.quality) if model.variable_rate else None
    if not model.variable_rate and header.quality != model.quality:
        raise LicError(
            f"file was written at quality {header.quality:g}, model is quality {model.quality}"
        )
    if header.weights_digest != weights_digest(model):
        raise LicError(
            f"file was written with weights {header.weights_digest.hex()}, "
            f"these are {weights_digest(model).hex()}: pass the same --weights"
        )
    padded_h = header.height + (-header.height % model.stride)
    padded_w = header.width + (-header.width % model.stride)
    if header.shapes != model.latent_shapes(padded_h, padded_w) or len(streams) != len(
        header.shapes
    ):
        raise LicError("corrupted file: latent shapes do not match the image size and model")
    x_hat = model.decompress(streams, header.shapes, quality)
    return tensor_to_image(x_hat[:, :, : header.height, : header.width], header.mode)


def _fixed_quality(header: Header) -> int:
    if header.quality != int(header.quality):
        raise LicError(f"corrupted file: quality {header.quality} of a fixed-rate model")
    return int(header.quality)
