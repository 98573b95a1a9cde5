"""`lic compress`, `lic decompress`, `lic info`, `lic models`.

Compress and decompress take one file or many (`--out-dir`), load the model once, and go
through `lic.api` like Python code does. `info` reads the container alone and `models` the
catalog (`lic.catalog`): both start without importing torch.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from lic.bitstream import unpack
from lic.defaults import DEFAULT_MODEL, DEFAULT_QUALITY
from lic.errors import LicError


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    source = Path(path)
    if source.is_dir():
        raise LicError(f"{path} is a directory")
    try:
        return source.read_bytes()
    except FileNotFoundError:
        raise LicError(f"no such file: {path}") from None
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


def _outputs(args: argparse.Namespace, suffix: str) -> Iterator[tuple[str, str]]:
    """(input, output) pairs: -o for one input, else beside it or in --out-dir; standard input
    without -o goes to standard output."""
    if len(args.inputs) > 1 and args.output:
        raise LicError("-o names one output: give several inputs --out-dir instead")
    if args.out_dir:
        Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    for name in args.inputs:
        if args.output:
            yield name, args.output
        elif name == "-":
            yield name, str(Path(args.out_dir) / f"stdin{suffix}") if args.out_dir else "-"
        else:
            folder = Path(args.out_dir) if args.out_dir else Path(name).parent
            stem = Path(name).stem if suffix == ".lic" else Path(name).name.removesuffix(".lic")
            yield name, str(folder / f"{stem}{suffix}")


def _each(args: argparse.Namespace, pairs: list[tuple[str, str]], code: Callable) -> int:
    """Run `code(input, output) -> (bytes written, pixels)` on every pair: a failing file is
    reported and the rest go on; a progress bar and a summary for several files."""
    from tqdm import tqdm

    done, failed, written, pixels = 0, 0, 0, 0
    many = len(pairs) > 1
    bar = tqdm(pairs, unit="file", disable=not many or args.quiet, leave=False)
    for source, target in bar:
        try:
            size, count = code(source, target)
        except LicError as error:
            if not many:
                raise
            tqdm.write(f"lic: error: {source}: {error}", file=sys.stderr)
            failed += 1
            continue
        done, written, pixels = done + 1, written + size, pixels + count
    if many and not args.quiet:
        bpp = 8 * written / pixels if pixels else 0.0
        summary = f"{done} files, {written} bytes, {bpp:.4f} bpp over all their pixels"
        print(summary + (f"; {failed} failed" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


def run_compress(args: argparse.Namespace) -> int:
    from lic.api import compress_result
    from lic.codec import as_image
    from lic.ratecontrol import parse_size

    size = None if args.size is None else parse_size(args.size)

    def compress(source: str, target: str) -> tuple[int, int]:
        image = as_image(_read(source) if source == "-" else source)
        result = compress_result(
            image,
            model=args.model,
            quality=args.quality,
            size=size,
            bpp=args.bpp,
            psnr=args.psnr,
            weights=args.weights,
            metadata=not args.strip,
            refine=args.refine,
        )
        _write(target, result.data)
        pixels = image.width * image.height
        if target != "-" and not args.quiet and (args.verbose or len(args.inputs) == 1):
            line = f"{target}: {len(result.data)} bytes, {8 * len(result.data) / pixels:.4f} bpp"
            line += f", quality {result.quality:.3f}"
            if result.psnr is not None:
                line += f", {result.psnr:.2f} dB"
            print(line, file=sys.stderr)
        return len(result.data), pixels

    return _each(args, list(_outputs(args, ".lic")), compress)


def run_decompress(args: argparse.Namespace) -> int:
    import io

    from lic.api import decompress
    from lic.codec import format_of, save_image

    def decompress_one(source: str, target: str) -> tuple[int, int]:
        fmt = "PNG" if target == "-" else format_of(target)  # an unknown one fails before decoding
        data = _read(source)
        image = decompress(data, weights=args.weights)
        if args.strip:
            image.info.clear()
        buffer = io.BytesIO()
        save_image(image, buffer, fmt, args.jpeg_quality)
        _write(target, buffer.getvalue())
        if args.verbose and target != "-":
            print(f"{target}: {image.width}×{image.height} {image.mode}", file=sys.stderr)
        return len(data), image.width * image.height

    return _each(args, list(_outputs(args, ".decoded.png")), decompress_one)


def run_info(args: argparse.Namespace) -> None:
    data = _read(args.input)
    header, _ = unpack(data)
    pixels = header.width * header.height
    print(f"model:    {header.model}")
    print(f"quality:  {header.quality:g}")
    print(f"format:   version {header.version}")
    print(f"digest:   {header.weights_digest.hex()}")
    print(f"image:    {header.width}×{header.height} {header.mode}")
    if header.metadata:
        print(f"metadata: {', '.join(f'{k} {len(v)} bytes' for k, v in header.metadata.items())}")
    print(f"latents:  {', '.join('×'.join(map(str, s)) for s in header.shapes)}")
    print(f"streams:  {', '.join(str(n) for n in header.stream_lengths)} bytes")
    print(f"file:     {len(data)} bytes ({len(data) - sum(header.stream_lengths)} of header)")
    print(f"bpp:      {8 * len(data) / pixels:.4f}")


def run_models(args: argparse.Namespace) -> None:
    from lic.catalog import models

    listed = models()
    width = max(len(model.name) for model in listed)
    for model in listed:
        if model.variable_rate:
            kind = f"variable rate {model.qualities[0]}–{model.qualities[1]}"
        else:
            kind = f"qualities {model.qualities[0]}–{model.qualities[-1]}"
        notes = ["the default"] if model.name == DEFAULT_MODEL else []
        if model.installed:
            notes.append("shipped")
        elif model.shipped:
            notes.append(f"weights not installed: pip install {model.package}")
        if model.folded:
            notes.append(f"q{','.join(map(str, model.folded))} folded from {model.name}-vr")
        if model.kodak and args.verbose:
            k = model.kodak
            notes.append(
                f"Kodak {k['bpp'][0]:.3f}–{k['bpp'][-1]:.3f} bpp, "
                f"{k['psnr-rgb'][0]:.2f}–{k['psnr-rgb'][-1]:.2f} dB"
            )
        print(f"{model.name:{width}s} {kind:20s} {'; '.join(notes) or 'no shipped weights'}")


def add_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    p = command("compress", "compress images to .lic files")
    p.add_argument("inputs", nargs="+", metavar="IMAGE", help="image files, or - for stdin")
    p.add_argument(
        "-o", "--output", help="the .lic of one input (- for stdout; default: IMAGE.lic)"
    )
    p.add_argument("--out-dir", help="folder for the .lic files (default: beside each image)")
    p.add_argument("--model", default=DEFAULT_MODEL, help="a model of `lic models`")
    target = p.add_mutually_exclusive_group()
    target.add_argument(
        "--quality",
        type=float,
        help=f"0 or 1 to 8, higher is better; continuous for -vr models (default "
        f"{DEFAULT_QUALITY:g} when no target is given)",
    )
    target.add_argument("--size", help="the best file of at most this size: 50KB, 48KiB, 12000")
    target.add_argument("--bpp", type=float, help="the best file of at most this many bits/pixel")
    target.add_argument("--psnr", type=float, help="the smallest file reaching this PSNR (dB)")
    p.add_argument("--weights", help="safetensors weights instead of the shipped ones")
    p.add_argument("--strip", action="store_true", help="leave out the ICC profile, EXIF and XMP")
    p.add_argument(
        "--refine",
        type=int,
        default=0,
        metavar="STEPS",
        help="optimize the latents for this image first (smaller files, ~0.5 s per step for a "
        "768×512 photo on one core; 60 is lic's measured setting, 0 none)",
    )
    p.set_defaults(run=run_compress)

    p = command("decompress", "decode .lic files to PNG, JPEG, WebP, TIFF or BMP")
    p.add_argument("inputs", nargs="+", metavar="FILE", help=".lic files, or - for stdin")
    p.add_argument(
        "-o",
        "--output",
        help="the image of one input, its format from the extension: .png .jpg .webp .tif "
        ".bmp (- for PNG on stdout; default: FILE.decoded.png)",
    )
    p.add_argument("--out-dir", help="folder for the images (default: beside each file)")
    p.add_argument("--weights", help="the weights the file was written with, if not shipped")
    p.add_argument("--jpeg-quality", type=int, default=95, help="quality of JPEG outputs")
    p.add_argument(
        "--strip", action="store_true", help="write no ICC profile, EXIF or XMP into the output"
    )
    p.set_defaults(run=run_decompress)

    p = command("info", "print a .lic header and its real bpp")
    p.add_argument("input", help="a .lic file, or - for stdin")
    p.set_defaults(run=run_info)

    p = command("models", "list the models, shipped weights (-v: their Kodak range)")
    p.set_defaults(run=run_models)
