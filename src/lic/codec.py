"""Image ↔ .lic bytes: colour conversion, padding, the model's streams and the container.

This is the one place where the pieces meet: image → 8-bit tensor (padded to the model's
stride) → model.compress → container, and back. Greyscale images are coded as three equal
channels and come back greyscale; alpha is dropped, 16-bit or float images are reduced to 8
bits, other colour spaces converted to RGB and only the first frame of an animation or
multi-page file is coded, each with a `LicWarning`. The image stays 8-bit throughout (the
transforms convert tile by tile, `lic.models.tiling`), and running out of memory is a LicError.

Photos are coded as they display: the EXIF orientation is applied first. Their ICC profile,
EXIF (orientation reset) and XMP travel in the container's metadata (format version 2) and come
back in the decoded image's `info`, from where `save_image` writes them into PNG, JPEG, WebP or
TIFF.

Each file's digest (`header_digest`) covers the weights and, from format version 2, the
constants that decide the coder tables (`coder_constants`): a file is never decoded with tables
other than those it was written with. Version-1 files (weights only, no end marks in the
streams) are read while those constants are still the ones version 1 used.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from lic.bitstream import FORMAT_VERSION, Header, check_image_size, pack, unpack
from lic.coding.rangecoder import CODER_CONSTANTS
from lic.errors import LicError
from lic.models.registry import get_spec, load, weights_digest
from lic.models.tiling import CODING_TILE


class LicWarning(UserWarning):
    """A lossy conversion of the input that the user should know about."""


#: SHA-256 (first 16 hex digits) of `coder_constants` of the models of format version 1's time,
#: with the factorized density alone and with the Gaussian conditional: a version-1 file (whose
#: digest covers the weights alone) is decoded only while its model's constants are these.
V1_CODER_CONSTANTS = {"e290ff97e3f88928", "afb3b862f8d6092f"}


def coder_constants(model: torch.nn.Module, version: int = FORMAT_VERSION) -> str:
    """The constants besides the weights that decide the bytes of a model's streams in format
    `version` (from version 3, the coding tile too)."""
    lines = [CODER_CONSTANTS, *(m.coder_constants() for m in model.entropy_models())]
    if version >= 3:
        lines.append(f"coding tile {CODING_TILE}")
    return "\n".join(lines)


def coding_tile(version: int) -> int | None:
    """The coding tile of format `version`'s streams: None (y as one grid) before version 3."""
    return CODING_TILE if version >= 3 else None


def header_digest(model: torch.nn.Module, version: int = FORMAT_VERSION) -> bytes:
    """The digest a file of format `version` written by `model` carries: the weights' digest
    (`weights_digest`), and from version 2 the coder constants with it."""
    if version == 1:
        return weights_digest(model)
    text = coder_constants(model, version).encode()
    return hashlib.sha256(weights_digest(model) + text).digest()[:8]


@contextmanager
def memory_errors() -> Iterator[None]:
    """Running out of memory (Python's or the allocator's) as the one-line LicError."""
    try:
        yield
    except MemoryError:
        raise LicError("out of memory") from None
    except RuntimeError as error:
        if "alloc" in str(error).lower() or "out of memory" in str(error).lower():
            raise LicError(f"out of memory: {str(error).splitlines()[0]}") from None
        raise


def open_image(source: str | Path | bytes) -> Image.Image:
    """Read an image file (or its bytes); anything Pillow cannot decode is a LicError."""
    name = "the input" if isinstance(source, bytes) else str(source)
    if not isinstance(source, bytes):
        path = Path(source)
        if path.is_dir():
            raise LicError(f"{name} is a directory, not an image")
        if not path.exists():
            raise LicError(f"no such file: {name}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
            check_image_size(*image.size)
            bits = _sample_bits(image)
            image.load()
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise LicError(f"cannot read {name} as an image") from None
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        warnings.warn(f"{name} has {frames} frames: only the first is coded", LicWarning, 2)
    if bits > 8:
        warnings.warn(f"{bits}-bit image reduced to 8 bits per sample", LicWarning, 2)
    return image


#: What `as_image` takes, for its error message.
IMAGE_TYPES = (
    "a PIL image, a NumPy array (uint8 or uint16, H×W or H×W×C; float in [0, 1]), a torch "
    "tensor ([3, H, W] or [1, 3, H, W] in [0, 1]), a path, or encoded image bytes"
)


def as_image(source: object) -> Image.Image:
    """A PIL image of any input `lic.compress` takes (IMAGE_TYPES); anything else is a LicError
    naming what is accepted."""
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, str | Path | bytes):
        return open_image(source)
    if isinstance(source, bytearray | memoryview):
        return open_image(bytes(source))
    if isinstance(source, torch.Tensor):
        source = _tensor_to_array(source)
    if isinstance(source, np.ndarray):
        return _array_to_image(source)
    raise LicError(f"cannot compress a {type(source).__name__}: pass {IMAGE_TYPES}")


def _tensor_to_array(tensor: torch.Tensor) -> np.ndarray:
    """An H×W×C float array of a [3, H, W] or [1, 3, H, W] (or 1-channel) tensor in [0, 1]."""
    if tensor.dim() == 4 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tensor.dim() != 3 or tensor.shape[0] not in (1, 3) or not tensor.is_floating_point():
        raise LicError(
            f"cannot compress a tensor of shape {list(tensor.shape)} and {tensor.dtype}: "
            "pass float [3, H, W] or [1, 3, H, W] in [0, 1]"
        )
    return tensor.detach().cpu().float().permute(1, 2, 0).numpy()


def _array_to_image(array: np.ndarray) -> Image.Image:
    """A PIL image of a uint8/uint16 or float ([0, 1]) array, H×W or H×W×C (C = 1, 3, 4)."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise LicError(f"cannot compress an array of shape {array.shape}: pass {IMAGE_TYPES}")
    if array.dtype == np.uint16:
        warnings.warn("16-bit image reduced to 8 bits per sample", LicWarning, stacklevel=3)
        array = np.round(array / 257.0)
    elif np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)) or array.min(initial=0) < 0 or array.max(initial=0) > 1:
            raise LicError("a float image must hold values in [0, 1]")
        array = np.round(array * 255.0)
    elif array.dtype != np.uint8:
        raise LicError(f"cannot compress an array of {array.dtype}: pass {IMAGE_TYPES}")
    return Image.fromarray(np.ascontiguousarray(array.astype(np.uint8)))


def _sample_bits(image: Image.Image) -> int:
    """Bits per sample of a not yet loaded image whose mode hides them (16-bit RGB PNGs and
    TIFFs open as 8-bit "RGB", decoded from a ";16" raw mode)."""
    raw = [tile.args if isinstance(tile.args, str) else "" for tile in image.tile]
    return 16 if any(";16" in mode for mode in raw) and image.mode in ("RGB", "RGBA") else 8


#: Output formats by file extension.
FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
_ORIENTATION = 0x0112


def displayed(image: Image.Image) -> tuple[Image.Image, dict[str, bytes]]:
    """`image` as it displays (EXIF orientation applied) and its ICC profile, EXIF (with the
    orientation reset) and XMP, by Pillow's `info` keys."""
    exif = image.getexif()
    if exif.get(_ORIENTATION, 1) != 1:
        image = ImageOps.exif_transpose(image)
        exif = image.getexif()
    metadata = {}
    if image.info.get("icc_profile"):
        metadata["icc_profile"] = bytes(image.info["icc_profile"])
    if len(exif):
        metadata["exif"] = exif.tobytes()
    xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    if xmp:
        metadata["xmp"] = xmp.encode() if isinstance(xmp, str) else bytes(xmp)
    return image, metadata


def save_image(
    image: Image.Image, target: str | Path | io.BytesIO, fmt: str, jpeg_quality: int = 95
) -> None:
    """Write `image` as `fmt` (a value of FORMATS) with the metadata in its `info`."""
    options: dict = {}
    info = image.info
    if info.get("icc_profile") and fmt != "BMP":
        options["icc_profile"] = info["icc_profile"]
    if info.get("exif") and fmt in ("PNG", "JPEG", "WEBP", "TIFF"):
        options["exif"] = info["exif"]
    if info.get("xmp"):
        if fmt == "PNG":
            text = PngImagePlugin.PngInfo()
            text.add_itxt("XML:com.adobe.xmp", info["xmp"].decode("utf-8", "replace"))
            options["pnginfo"] = text
        elif fmt in ("JPEG", "WEBP"):
            options["xmp"] = info["xmp"]
    if fmt == "JPEG":
        options["quality"] = jpeg_quality
    try:
        image.save(target, fmt, **options)
    except (OSError, ValueError) as error:
        raise LicError(f"cannot write {target}: {error}") from None


def format_of(path: str | Path) -> str:
    """The output format of a file name, by its extension (a LicError when unknown)."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(FORMATS))
        raise LicError(f"cannot write {path}: unknown image extension (known: {known})")
    return fmt


def image_to_array(image: Image.Image) -> tuple[np.ndarray, str]:
    """The 8-bit [H, W, 3] array of `image` and the mode to restore ("L" or "RGB")."""
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
    elif mode in ("RGBA", "RGBa", "LA", "La", "PA") or (
        mode == "P" and "transparency" in image.info
    ):
        warnings.warn(f"{mode} image: the alpha channel is dropped", LicWarning, stacklevel=2)
        image = image.convert("L") if mode in ("LA", "La") else image.convert("RGBA").convert("RGB")
    elif mode not in ("RGB", "L", "1", "P"):
        warnings.warn(f"{mode} image converted to RGB", LicWarning, stacklevel=2)
    grey = image.mode in ("L", "1")
    array = np.asarray(image.convert("L" if grey else "RGB"), dtype=np.uint8)
    return (np.repeat(array[:, :, None], 3, 2) if grey else array), "L" if grey else "RGB"


def image_to_tensor(image: Image.Image) -> tuple[torch.Tensor, str]:
    """A [1, 3, H, W] float tensor in [0, 1] and the mode to restore ("L" or "RGB")."""
    array, mode = image_to_array(image)
    return torch.from_numpy(array.copy()).permute(2, 0, 1)[None].float().div(255), mode


def to_pixels(x: torch.Tensor, mode: str) -> torch.Tensor:
    """uint8 [B, C, H, W] of float x in [0, 1]: C = 3, or 1 (the channels' mean) for mode "L"."""
    x = x.clamp(0, 1)
    if mode == "L":
        x = x.mean(1, keepdim=True)
    return torch.round(x * 255).to(torch.uint8)


def pixels_to_image(pixels: torch.Tensor) -> Image.Image:
    """The PIL image of uint8 [1, C, H, W] pixels (C = 1: greyscale, 3: RGB)."""
    array = pixels[0].permute(1, 2, 0).numpy()
    return Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else np.ascontiguousarray(array))


def tensor_to_image(x: torch.Tensor, mode: str) -> Image.Image:
    """The 8-bit image of a float [1, 3, H, W] tensor in [0, 1]."""
    return pixels_to_image(to_pixels(x, mode))


def padded_pixels(array: np.ndarray, stride: int) -> torch.Tensor:
    """uint8 [1, 3, H', W'] of an [H, W, 3] array, edge-replicated right and bottom up to
    multiples of `stride` (cheaper to code than zeros)."""
    height, width = array.shape[:2]
    array = np.pad(array, ((0, -height % stride), (0, -width % stride), (0, 0)), mode="edge")
    return torch.from_numpy(array).permute(2, 0, 1)[None]


def pad(x: torch.Tensor, stride: int) -> torch.Tensor:
    """Replicate-pad a float [B, C, H, W] tensor right and bottom up to multiples of `stride`."""
    h, w = x.shape[2:]
    return torch.nn.functional.pad(x, (0, -w % stride, 0, -h % stride), mode="replicate")


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


def encode(
    model: torch.nn.Module,
    image: Image.Image,
    quality: float | None = None,
    *,
    metadata: bool = True,
    refine: int = 0,
) -> bytes:
    """Compress `image` with `model` (a variable-rate model needs `quality`) into .lic bytes:
    upright as it displays, with its ICC profile, EXIF and XMP unless `metadata` is False;
    `refine` steps of encoder-side latent refinement first (`lic.refine`) if not 0."""
    model.check_refine(refine)  # before the pixels are read
    image, photo_metadata = displayed(image)
    array, mode = image_to_array(image)
    height, width = array.shape[:2]
    check_image_size(width, height)
    pixels = padded_pixels(array, model.stride)
    del image, array  # while coding, one copy of the pixels here (a 48-MP photo: 145 MB)
    with memory_errors():
        compressed = model.compress(pixels, quality, refine=refine)
    header = Header(
        model=model.name,
        quality=float(quality if quality is not None else model.quality),
        weights_digest=header_digest(model),
        width=width,
        height=height,
        mode=mode,
        shapes=compressed.shapes,
        stream_lengths=[len(s) for s in compressed.streams],
        metadata=photo_metadata if metadata else {},
    )
    return pack(header, compressed.streams)


def decode(
    data: bytes, model: torch.nn.Module | None = None, weights: str | None = None
) -> Image.Image:
    """Decode .lic bytes; the model named in the header is loaded unless `model` is given.

    Every header field is checked against the model before anything the size of the image is
    allocated; a stream too short for its latents is refused before the synthesis runs."""
    header, streams = unpack(data)
    if model is None:
        spec = get_spec(header.model)
        quality = header.quality if spec.variable_rate else _fixed_quality(header)
        model, _ = model_for(header.model, quality, weights)
    if header.model != model.name:
        raise LicError(f"file was written by {header.model}, not {model.name}")
    if model.variable_rate:
        quality = float(header.quality)
        model.quality_tensor(quality, 1)  # in the model's range, or a LicError
    else:
        quality = None
        if _fixed_quality(header) != model.quality:
            raise LicError(
                f"file was written at quality {header.quality:g}, model is quality {model.quality}"
            )
    _check_digest(header, model)
    padded_h = header.height + (-header.height % model.stride)
    padded_w = header.width + (-header.width % model.stride)
    if header.shapes != model.latent_shapes(padded_h, padded_w) or len(streams) != len(
        header.shapes
    ):
        raise LicError("corrupted file: latent shapes do not match the image size and model")
    with memory_errors():
        pixels = model.decompress(
            streams,
            header.shapes,
            quality,
            finish=lambda x_hat: to_pixels(x_hat, header.mode),
            marks=header.version >= 2,
            coding_tile=coding_tile(header.version),
        )
        image = pixels_to_image(pixels[:, :, : header.height, : header.width])
    image.info.update(header.metadata)
    return image


def _check_digest(header: Header, model: torch.nn.Module) -> None:
    """The file's digest is this model's (weights and coder constants) at its format version."""
    if header.version == 1:
        constants = hashlib.sha256(coder_constants(model, 1).encode()).hexdigest()[:16]
        if constants not in V1_CODER_CONSTANTS:
            raise LicError(
                "format version 1 file: this lic's coder tables differ from those it was "
                "written with; decode it with the lic that wrote it"
            )
    expected = header_digest(model, header.version)
    if header.weights_digest != expected:
        raise LicError(
            f"file was written with weights {header.weights_digest.hex()}, "
            f"these are {expected.hex()}: pass the same --weights"
        )


def _fixed_quality(header: Header) -> int:
    quality = header.quality
    if not math.isfinite(quality) or quality != int(quality):
        raise LicError(f"corrupted file: quality {quality} of a fixed-rate model")
    return int(quality)
