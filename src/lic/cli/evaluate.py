"""`lic eval`, `lic anchors`, `lic bd`, `lic plot`, `lic bench`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from lic import catalog
from lic.errors import LicError


def _files(folder: str, limit: int | None) -> list[Path]:
    from lic.train.data import image_files

    files = image_files(folder)
    if not files:
        raise LicError(f"no images in {folder}")
    return files[:limit] if limit else files


def _print_table(document: dict) -> None:
    nan = float("nan")
    r = document["results"]
    print(f"{document['name']}: {'quality':>8} {'bpp':>8} {'PSNR':>8} {'MS-SSIM':>9} {'dB':>7}")
    for i in range(len(r["bpp"])):
        print(
            f"{'':{len(document['name'])}}  {r['quality'][i]:>8} {r['bpp'][i]:8.4f} "
            f"{r['psnr-rgb'][i]:8.3f} {r.get('ms-ssim-rgb', [nan] * 99)[i]:9.5f} "
            f"{r.get('ms-ssim-db', [nan] * 99)[i]:7.3f}"
        )


def run_eval(args: argparse.Namespace) -> None:
    from lic.evaluate.learned import evaluate_model
    from lic.evaluate.results import save
    from lic.models import get_spec
    from lic.models.base import HIGHEST_QUALITY

    spec = get_spec(args.model)
    lowest = spec.lowest_quality if spec.variable_rate else 1
    document = evaluate_model(
        args.model,
        args.quality or list(range(lowest, HIGHEST_QUALITY + 1)),
        _files(args.folder, args.limit),
        args.weights,
        progress=not args.no_progress,
        refine=args.refine,
    )
    _print_table(document)
    if args.json:
        save(document, args.json)


def run_anchors(args: argparse.Namespace) -> None:
    from lic.evaluate.anchors import ANCHORS, evaluate_anchor
    from lic.evaluate.results import save

    files = _files(args.folder, args.limit)
    names = args.codec or list(ANCHORS)
    missing = []
    for name in names:
        if name not in ANCHORS:
            raise LicError(f"unknown codec {name!r}; known: {', '.join(ANCHORS)}")
        if ANCHORS[name].missing():
            missing.append(name)
            print(f"{name}: MISSING ({', '.join(ANCHORS[name].missing())} not installed)")
            continue
        document = evaluate_anchor(ANCHORS[name], files, progress=not args.no_progress)
        _print_table(document)
        save(document, Path(args.out) / f"{name}.json")
    if missing:
        raise LicError(f"codecs missing: {', '.join(missing)} (run scripts/install-anchors.sh)")


def run_bd(args: argparse.Namespace) -> None:
    from lic.evaluate.bd import bd_quality, bd_rate
    from lic.evaluate.results import load_curve

    ref = load_curve(args.reference)["results"]
    for path in args.test:
        curve = load_curve(path)
        r = curve["results"]
        rate = bd_rate(ref["bpp"], ref["psnr-rgb"], r["bpp"], r["psnr-rgb"])
        gain = bd_quality(ref["bpp"], ref["psnr-rgb"], r["bpp"], r["psnr-rgb"])
        line = f"{curve['name']}: BD-rate(PSNR) {100 * rate:+.2f}%  BD-PSNR {gain:+.3f} dB"
        if "ms-ssim-db" in ref and "ms-ssim-db" in r:
            ms = bd_rate(ref["bpp"], ref["ms-ssim-db"], r["bpp"], r["ms-ssim-db"])
            line += f"  BD-rate(MS-SSIM) {100 * ms:+.2f}%"
        print(line)


def run_plot(args: argparse.Namespace) -> None:
    from lic.evaluate.plot import plot_curves

    plot_curves(args.results, args.output, args.title, args.max_bpp)
    print(f"plot: {args.output}")


def run_bench_command(args: argparse.Namespace) -> None:
    import numpy as np
    from PIL import Image

    from lic.codec import open_image
    from lic.evaluate.bench import run_bench

    if args.image:
        image = open_image(args.image).convert("RGB")
        source = args.image
    else:  # a smooth synthetic 768×512 image when no photo is given
        yy, xx = np.mgrid[0:512, 0:768]
        array = np.stack([(xx / 3) % 256, (yy / 2) % 256, ((xx + yy) / 5) % 256], -1)
        image = Image.fromarray(array.astype(np.uint8))
        source = "a synthetic image (no --image given)"
    rows = run_bench(args.model, image, args.quality, args.repeats)
    decode_s = {r["model"]: r["decode_s"] for r in rows}
    reference = next(
        (decode_s[n] for n in ("bmshj2018-hyperprior-vr", "bmshj2018-hyperprior") if n in decode_s),
        None,
    )
    print(
        f"{source}: {image.width}×{image.height}, quality {args.quality:g}, "
        f"median of {args.repeats}"
    )
    for row in rows:
        line = (
            f"{row['model']:28s} encode {row['encode_s']:6.3f} s  decode {row['decode_s']:6.3f} s"
        )
        if row["quality"] != args.quality:
            line += f"  (quality {row['quality']:g}: its nearest)"
        if reference:
            line += f"  decode/hyperprior {row['decode_s'] / reference:5.2f}"
        if "compressai_encode_s" in row:
            line += (
                f"  | CompressAI {row['compressai_encode_s']:6.3f}"
                f" / {row['compressai_decode_s']:6.3f} s"
                f"  lic/CompressAI {row['encode_ratio']:.2f} / {row['decode_ratio']:.2f}"
            )
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")


def run_compare(args: argparse.Namespace) -> None:
    import numpy as np

    from lic.api import compress_result, decompress
    from lic.codec import as_image, displayed
    from lic.evaluate.compare import compare
    from lic.evaluate.metrics import psnr
    from lic.ratecontrol import parse_size

    image, _ = displayed(as_image(args.image))
    original = np.array(image.convert("RGB"))
    result = compress_result(
        original,
        model=args.model,
        quality=args.quality,
        size=None if args.size is None else parse_size(args.size),
        bpp=args.bpp,
    )
    decoded = np.array(decompress(result.data).convert("RGB"))
    label = f"lic q{result.quality:.2f}"
    picture, versions, skipped = compare(original, result.data, decoded, label, args.codec)
    picture.save(args.output)
    pixels = original.shape[0] * original.shape[1]
    for version in versions:
        print(
            f"{version.name:14s} {version.size:8d} bytes  {8 * version.size / pixels:.4f} bpp  "
            f"{psnr(original, version.decoded):6.2f} dB  {version.setting}"
        )
    for line in skipped:
        print(f"skipped: {line}")
    print(f"picture: {args.output}")


def add_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    p = command("eval", "compress every image of a folder to real files and measure them")
    p.add_argument("folder", help="a folder of images (e.g. the 24 Kodak photos)")
    p.add_argument("--model", required=True, help="a model of `lic models`")
    p.add_argument(
        "--quality", type=float, nargs="+", help="qualities (default: every integer one)"
    )
    p.add_argument(
        "--weights", help='weights instead of the shipped ones; "{quality}" in it stands for each'
    )
    p.add_argument(
        "--refine", type=int, default=0, metavar="STEPS", help="latent refinement steps per file"
    )
    p.add_argument("--json", help="write the result document here")
    p.add_argument("--limit", type=int, help="only the first N images")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run_eval)

    p = command("anchors", "measure classical codecs on a folder with their real tools")
    p.add_argument("folder", help="a folder of images")
    p.add_argument(
        "--codec", nargs="+", help="codecs to run (default: all; a wrong one lists them)"
    )
    p.add_argument("--out", default="results/kodak", help="folder for <codec>.json")
    p.add_argument("--limit", type=int, help="only the first N images")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run_anchors)

    p = command("compare", "one photo: lic beside JPEG, WebP, AVIF, JPEG XL at its file size")
    p.add_argument("image", help="the photo")
    p.add_argument("-o", "--output", default="compare.png", help="the picture to write (PNG)")
    p.add_argument("--model", help="a model of `lic models` (default: the default codec)")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--quality", type=float, help="lic's quality (default 4)")
    target.add_argument("--size", help="lic's file size target, e.g. 30KB")
    target.add_argument("--bpp", type=float, help="lic's bits per pixel target")
    p.add_argument(
        "--codec",
        nargs="+",
        default=["jpeg-420", "webp", "avif", "jpeg-xl"],
        help="classical codecs of `lic anchors` (installed by scripts/install-anchors.sh)",
    )
    p.set_defaults(run=run_compare)

    p = command("bd", "BD-rate and BD-PSNR of result files against a reference")
    p.add_argument("reference", help="the reference result file (JSON)")
    p.add_argument("test", nargs="+", help="result files to compare with it")
    p.set_defaults(run=run_bd)

    p = command("plot", "draw RD curves of result files into a PNG")
    p.add_argument("results", nargs="+", help="result files (JSON)")
    p.add_argument("-o", "--output", required=True, help="the PNG to write")
    p.add_argument("--title", default="Kodak", help="the plot's title")
    p.add_argument("--max-bpp", type=float, default=2.0, help="right end of the bpp axis")
    p.set_defaults(run=run_plot)

    p = command("bench", "time compress and decompress of whole models")
    p.add_argument(
        "--model", nargs="+", default=sorted(catalog.MODELS), help="models to time (default: all)"
    )
    p.add_argument("--image", help="photo to code (default: a synthetic 768×512 image)")
    p.add_argument("--quality", type=float, default=4, help="the quality coded")
    p.add_argument("--repeats", type=int, default=5, help="runs per model (the median is shown)")
    p.add_argument("--json", help="write the rows here")
    p.set_defaults(run=run_bench_command)
