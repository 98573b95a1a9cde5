"""`lic anchors`: classical codecs measured on the same images, with the same metrics.

Each codec is a real encoder and decoder from Debian's packages (installed by
`scripts/install-anchors.sh`): the image is written as PNG or PPM, encoded at each setting of
the sweep, decoded back to a file, and measured like a .lic file (bpp from the encoded file's
size). A codec whose tools are missing is reported as missing, never skipped silently.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from lic.errors import LicError
from lic.evaluate.measure import measure, reference
from lic.evaluate.results import summarize


@dataclass(frozen=True)
class Anchor:
    """A classical codec: command lines with {src}, {enc}, {dec} and {q} placeholders."""

    name: str
    description: str
    suffix: str
    source: str  # "ppm" or "png": the input format the encoder reads
    encode: tuple[str, ...]
    decode: tuple[str, ...]
    decoded: str  # suffix of the decoder's output
    settings: tuple[float, ...]
    #: The integer settings `lic compare` searches, from the smallest file to the largest.
    search: tuple[int, int]

    def tools(self) -> list[str]:
        return [self.encode[0], self.decode[0]]

    def missing(self) -> list[str]:
        return [t for t in self.tools() if shutil.which(t) is None]


def _jpeg(name: str, sampling: str) -> Anchor:
    """JPEG with libjpeg-turbo at chroma sampling `sampling` (2x2 = 4:2:0, 1x1 = 4:4:4)."""
    return Anchor(
        f"jpeg-{name}",
        f"JPEG {name[0]}:{name[1]}:{name[2]}, libjpeg-turbo cjpeg -optimize",
        ".jpg",
        "ppm",
        (
            "cjpeg",
            "-quality",
            "{q}",
            "-sample",
            sampling,
            "-optimize",
            "-outfile",
            "{enc}",
            "{src}",
        ),
        ("djpeg", "-outfile", "{dec}", "{enc}"),
        ".ppm",
        (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95),
        (1, 100),
    )


ANCHORS = {
    a.name: a
    for a in [
        _jpeg("420", "2x2"),
        _jpeg("444", "1x1"),
        Anchor(
            "webp",
            "WebP, cwebp -m 6",
            ".webp",
            "png",
            ("cwebp", "-quiet", "-m", "6", "-q", "{q}", "{src}", "-o", "{enc}"),
            ("dwebp", "-quiet", "{enc}", "-ppm", "-o", "{dec}"),
            ".ppm",
            (5, 15, 25, 40, 55, 70, 80, 90, 95),
            (0, 100),
        ),
        Anchor(
            "avif",
            "AVIF 4:4:4, avifenc (libaom) speed 6, fixed quantizer",
            ".avif",
            "png",
            (
                "avifenc",
                "-j",
                "1",
                "-s",
                "6",
                "-y",
                "444",
                "--min",
                "{q}",
                "--max",
                "{q}",
                "{src}",
                "{enc}",
            ),
            ("avifdec", "-j", "1", "{enc}", "{dec}"),
            ".png",
            (58, 52, 46, 40, 34, 28, 22, 16, 10),
            (63, 0),
        ),
        Anchor(
            "heic",
            "HEIC 4:2:0, heif-enc (x265)",
            ".heic",
            "png",
            ("heif-enc", "-q", "{q}", "-o", "{enc}", "{src}"),
            ("heif-convert", "{enc}", "{dec}"),
            ".png",
            (5, 15, 25, 35, 45, 55, 65, 75, 85, 92),
            (1, 100),
        ),
        Anchor(
            "jpeg-xl",
            "JPEG XL, cjxl effort 7",
            ".jxl",
            "png",
            ("cjxl", "--quiet", "-e", "7", "-q", "{q}", "{src}", "{enc}"),
            ("djxl", "--quiet", "{enc}", "{dec}"),
            ".png",
            (10, 20, 30, 40, 50, 60, 70, 80, 90, 95),
            (1, 99),
        ),
        Anchor(
            "jpeg2000",
            "JPEG 2000, OpenJPEG opj_compress at a compression ratio",
            ".jp2",
            "ppm",
            ("opj_compress", "-i", "{src}", "-o", "{enc}", "-r", "{q}"),
            ("opj_decompress", "-i", "{enc}", "-o", "{dec}"),
            ".ppm",
            (240, 160, 100, 64, 40, 24, 16, 10, 7),
            (400, 2),
        ),
    ]
}


def run_tool(command: tuple[str, ...], **fields: object) -> None:
    """Run a codec's command line with its placeholders filled; a failure is a LicError."""
    args = [part.format(**fields) for part in command]
    result = subprocess.run(args, capture_output=True, timeout=300)
    if result.returncode != 0:
        raise LicError(f"{args[0]} failed: {result.stderr.decode(errors='replace').strip()[:200]}")


def evaluate_anchor(anchor: Anchor, files: list[Path], progress: bool = True) -> dict:
    """Result document of one classical codec over its whole sweep."""
    missing = anchor.missing()
    if missing:
        raise LicError(
            f"{anchor.name}: missing {', '.join(missing)} (run scripts/install-anchors.sh)"
        )
    points: dict[str, list[dict]] = {str(q): [] for q in anchor.settings}
    bar = tqdm(total=len(files) * len(anchor.settings), disable=not progress, desc=anchor.name)
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            ref = reference(path)
            src = Path(tmp) / f"src.{anchor.source}"
            Image.fromarray(ref).save(src)
            for q in anchor.settings:
                enc, dec = Path(tmp) / f"enc{anchor.suffix}", Path(tmp) / f"dec{anchor.decoded}"
                start = time.perf_counter()
                run_tool(anchor.encode, src=src, enc=enc, q=q)
                encoded = time.perf_counter()
                run_tool(anchor.decode, enc=enc, dec=dec)
                done = time.perf_counter()
                with Image.open(dec) as image:
                    decoded = np.array(image.convert("RGB"))
                points[str(q)].append(
                    measure(
                        path.name, ref, decoded, enc.stat().st_size, encoded - start, done - encoded
                    )
                )
                bar.update(1)
    bar.close()
    return summarize(anchor.name, anchor.description, points)
