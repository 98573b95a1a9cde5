"""`lic compare`: one photo, lic beside the classical codecs at the same file size, as a picture.

lic codes the photo (a quality, or a size/bpp target); each classical codec of `lic anchors`
that is installed (JPEG 4:2:0, WebP, AVIF, JPEG XL by default) is then searched over its own
quality setting for the largest file no larger than lic's, with the same command lines as the
Kodak comparison. The most detailed region of the photo (the crop with the most gradient
energy) is shown for every codec at 1:1 and its centre at 2× (nearest neighbour), labelled with
codec, bytes, bpp and PSNR over the whole photo: people would rather look than read.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from lic.errors import LicError
from lic.evaluate.anchors import ANCHORS, Anchor, run_tool
from lic.evaluate.metrics import psnr

#: The classical codecs compared by default.
DEFAULT_CODECS = ("jpeg-420", "webp", "avif", "jpeg-xl")
#: Crop side (pixels) of the 1:1 view; the 2× view shows its central half.
CROP = 192
LABEL = 58  # pixels of text above each column


@dataclass
class Coded:
    """One codec's version of the photo."""

    name: str
    size: int
    decoded: np.ndarray  # uint8 H×W×3
    setting: str


def detailed_region(image: np.ndarray, side: int = CROP) -> tuple[int, int]:
    """(top, left) of the side×side crop with the most gradient energy (on a side/4 grid)."""
    grey = image.astype(np.float64).mean(2)
    energy = np.zeros_like(grey)
    energy[:, 1:] += np.abs(np.diff(grey, axis=1))
    energy[1:, :] += np.abs(np.diff(grey, axis=0))
    height, width = grey.shape
    side_h, side_w = min(side, height), min(side, width)
    integral = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    best, where = -1.0, (0, 0)
    step = max(side // 4, 1)
    for top in range(0, height - side_h + 1, step):
        for left in range(0, width - side_w + 1, step):
            total = (
                integral[top + side_h, left + side_w]
                - integral[top, left + side_w]
                - integral[top + side_h, left]
                + integral[top, left]
            )
            if total > best:
                best, where = total, (top, left)
    return where


def classical_at_size(anchor: Anchor, image: np.ndarray, max_bytes: int) -> Coded | None:
    """`anchor`'s largest file of at most `max_bytes` over its quality setting (bisection over
    `anchor.search`, ordered from the smallest file to the largest), decoded; None when even
    its smallest file is larger."""
    first, last = anchor.search
    settings = list(range(first, last + 1) if first < last else range(first, last - 1, -1))
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / f"src.{anchor.source}"
        Image.fromarray(image).save(source)

        def code(setting: int) -> Coded:
            encoded = Path(folder) / f"enc{anchor.suffix}"
            decoded = Path(folder) / f"dec{anchor.decoded}"
            run_tool(anchor.encode, src=source, enc=encoded, q=setting)
            run_tool(anchor.decode, enc=encoded, dec=decoded)
            with Image.open(decoded) as result:
                pixels = np.array(result.convert("RGB"))
            return Coded(anchor.name, encoded.stat().st_size, pixels, f"setting {setting}")

        best, low, high = None, 0, len(settings) - 1
        while low <= high:  # the largest index whose file fits
            middle = (low + high) // 2
            coded = code(settings[middle])
            if coded.size <= max_bytes:
                best, low = coded, middle + 1
            else:
                high = middle - 1
    return best


def compare_picture(original: np.ndarray, versions: list[Coded], title: str) -> Image.Image:
    """Columns: the original and each version; rows: the detailed crop at 1:1 and 2×."""
    top, left = detailed_region(original)
    height, width = original.shape[:2]
    side_h, side_w = min(CROP, height), min(CROP, width)
    half_h, half_w = side_h // 2, side_w // 2
    columns = [Coded("original", 0, original, "")] + versions
    sheet = Image.new("RGB", (side_w * len(columns), LABEL + 2 * side_h + 18), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 2), title, fill="black")
    pixels = height * width
    for i, version in enumerate(columns):
        crop = version.decoded[top : top + side_h, left : left + side_w]
        zoom = crop[side_h // 4 : side_h // 4 + half_h, side_w // 4 : side_w // 4 + half_w]
        x = i * side_w
        sheet.paste(Image.fromarray(np.ascontiguousarray(crop)), (x, LABEL))
        sheet.paste(
            Image.fromarray(np.ascontiguousarray(zoom)).resize((side_w, side_h), Image.NEAREST),
            (x, LABEL + side_h + 18),
        )
        if version.size:
            quality = psnr(original, version.decoded)
            label = f"{version.name}\n{version.size} B, {8 * version.size / pixels:.3f} bpp"
            label += f"\n{quality:.2f} dB"
        else:
            label = "original\n\n1:1 and 2x"
        draw.multiline_text((x + 4, 14), label, fill="black", spacing=1)
    draw.text((4, LABEL + side_h + 3), f"2x of the centre, crop at ({left}, {top})", fill="black")
    return sheet


def compare(
    original: np.ndarray,
    lic_file: bytes,
    lic_decoded: np.ndarray,
    lic_label: str,
    codecs: list[str],
) -> tuple[Image.Image, list[Coded], list[str]]:
    """The picture, the versions shown, and the codecs skipped (not installed, or no file that
    small)."""
    versions = [Coded(lic_label, len(lic_file), lic_decoded, "")]
    skipped = []
    for name in codecs:
        if name not in ANCHORS:
            raise LicError(f"unknown codec {name!r}; known: {', '.join(ANCHORS)}")
        anchor = ANCHORS[name]
        if anchor.missing():
            skipped.append(f"{name} ({', '.join(anchor.missing())} not installed)")
            continue
        coded = classical_at_size(anchor, original, len(lic_file))
        if coded is None:
            skipped.append(f"{name} (no file of {len(lic_file)} bytes or less)")
            continue
        versions.append(coded)
    height, width = original.shape[:2]
    title = f"{width}x{height}, every codec at <= {len(lic_file)} bytes (lic's file)"
    return compare_picture(original, versions, title), versions, skipped
