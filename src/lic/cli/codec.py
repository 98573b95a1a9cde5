"""`lic compress`, `lic decompress`, `lic info`, `lic models`."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from lic.bitstream import unpack
from lic.codec import (
    DEFAULT_MODEL,
    DEFAULT_QUALITY,
    decode,
    encode,
    format_of,
    model_for,
    open_image,
    save_image,
)
from lic.errors import LicError
from lic.models.registry import REGISTRY, folded, shipped
from lic.ratecontrol import (
    Result,
    compress_to_bpp,
    compress_to_psnr,
    compress_to_size,
    parse_size,
)


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise LicError(f"cannot read {path}: {error.strerror}") from None


def _write(path: str, data: bytes) -> None:
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        Path(path).write_bytes(data)
    except OSError as error:
        raise LicError(f"cannot write {path}: {error.strerror}") from None


def run_compress(args: argparse.Namespace) -> None:
    image = open_image(_read(args.input)) if args.input == "-" else open_image(args.input)
    quality = DEFAULT_QUALITY if args.quality is None else args.quality
    model, model_quality = model_for(args.model, quality, args.weights)
    metadata = not args.strip
    if args.size is not None:
        result = compress_to_size(model, image, parse_size(args.size), metadata=metadata)
    elif args.bpp is not None:
        result = compress_to_bpp(model, image, args.bpp, metadata=metadata)
    elif args.psnr is not None:
        result = compress_to_psnr(model, image, args.psnr, metadata=metadata)
    else:
        result = Result(encode(model, image, model_quality, metadata=metadata), quality)
    out = args.output or str(Path(args.input).with_suffix(".lic"))
    _write(out, result.data)
    if out != "-":
        bpp = 8 * len(result.data) / (image.width * image.height)
        print(
            f"{out}: {len(result.data)} bytes, {bpp:.4f} bpp, quality {result.quality:.3f}",
            file=sys.stderr,
        )


def run_decompress(args: argparse.Namespace) -> None:
    out = args.output or str(Path(args.input).with_suffix(".decoded.png"))
    fmt = "PNG" if out == "-" else format_of(out)  # before decoding: an unknown one fails fast
    image = decode(_read(args.input), weights=args.weights)
    if args.strip:
        image.info.clear()
    buffer = io.BytesIO()
    save_image(image, buffer, fmt, args.jpeg_quality)
    _write(out, buffer.getvalue())


def run_info(args: argparse.Namespace) -> None:
    data = _read(args.input)
    header, streams = unpack(data)
    pixels = header.width * header.height
    print(f"model:    {header.model}")
    print(f"quality:  {header.quality:g}")
    print(f"weights:  {header.weights_digest.hex()}")
    print(f"image:    {header.width}×{header.height} {header.mode}")
    print(f"latents:  {', '.join('×'.join(map(str, s)) for s in header.shapes)}")
    print(f"streams:  {', '.join(str(n) for n in header.stream_lengths)} bytes")
    print(f"file:     {len(data)} bytes ({len(data) - sum(header.stream_lengths)} of header)")
    print(f"bpp:      {8 * len(data) / pixels:.4f}")


def run_models(args: argparse.Namespace) -> None:
    for name, spec in sorted(REGISTRY.items()):
        weights, fold = shipped(spec), folded(spec)
        kind = f"variable rate {spec.lowest_quality}–8" if spec.variable_rate else "qualities 1–8"
        notes = []
        if weights:
            notes.append("shipped" if spec.variable_rate else f"shipped q{_list(weights)}")
        if fold:
            notes.append(f"q{_list(fold)} folded from {name}-vr")
        print(f"{name:28s} {kind:20s} {'; '.join(notes) or 'no shipped weights'}")


def _list(qualities: list[int]) -> str:
    return ",".join(map(str, sorted(qualities)))


def add_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("compress", help="compress an image to a .lic file")
    p.add_argument("input", help="image file, or - for standard input")
    p.add_argument("-o", "--output", help="output .lic (default: INPUT with .lic; - for stdout)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model name (default {DEFAULT_MODEL})")
    target = p.add_mutually_exclusive_group()
    target.add_argument(
        "--quality",
        type=float,
        help="1–8, higher is better; continuous for variable-rate models, some of which also "
        "go down to 0 (`lic models`; default 4)",
    )
    target.add_argument("--size", help="largest file that fits, e.g. 50KB, 48KiB, 12000")
    target.add_argument("--bpp", type=float, help="largest file of at most this many bits/pixel")
    target.add_argument("--psnr", type=float, help="smallest file reaching this PSNR (dB)")
    p.add_argument("--weights", help="safetensors weights instead of the shipped ones")
    p.add_argument("--strip", action="store_true", help="leave out the ICC profile, EXIF and XMP")
    p.set_defaults(run=run_compress)

    p = commands.add_parser("decompress", help="decode a .lic file to PNG, JPEG, WebP, TIFF, BMP")
    p.add_argument("input", help=".lic file, or - for standard input")
    p.add_argument(
        "-o",
        "--output",
        help="output image, its format from the extension: .png .jpg .webp .tif .bmp "
        "(default: INPUT.decoded.png; - for PNG on stdout)",
    )
    p.add_argument("--weights", help="the weights the file was written with, if not shipped")
    p.add_argument(
        "--jpeg-quality", type=int, default=95, help="quality of a JPEG output (default 95)"
    )
    p.add_argument(
        "--strip", action="store_true", help="write no ICC profile, EXIF or XMP into the output"
    )
    p.set_defaults(run=run_decompress)

    p = commands.add_parser("info", help="print a .lic header and its real bpp")
    p.add_argument("input")
    p.set_defaults(run=run_info)

    p = commands.add_parser("models", help="list the registered models and shipped weights")
    p.set_defaults(run=run_models)
