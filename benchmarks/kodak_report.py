"""The Kodak comparison: lic's result files beside the classical anchors and the published
curves, as a markdown table of BD-rates and an RD plot, from files measured by `lic eval` and
`lic anchors` (nothing here is typed in by hand).

    python benchmarks/kodak_report.py results/kodak/bmshj2018-hyperprior-vr.json \
        [--anchors results/kodak] [--published ../shared/anchors/published] [--plot rd.png]

Another image set (the published curves are Kodak's, so they are left out):

    python benchmarks/kodak_report.py results/photos/*-vr.json --images "4 held-out photos" \
        --anchors results/photos --published "" --plot results/photos/rd.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lic.errors import LicError
from lic.evaluate.bd import bd_quality, bd_rate
from lic.evaluate.plot import plot_curves
from lic.evaluate.results import load_curve

ANCHORS = ("jpeg-420", "jpeg-444", "webp", "avif", "heic", "jpeg-xl", "jpeg2000")
PUBLISHED = (
    "compressai/compressai-bmshj2018-hyperprior_mse_cpu.json",
    "compressai/bmshj2018-hyperprior-vbr-ans.json",
    "compressai/compressai-mbt2018-mean_mse_cpu.json",
    "compressai/mbt2018-mean-vbr-ans.json",
    "compressai/mbt2018-vbr-ans.json",
)


def _bd(reference: dict, test: dict, metric: str) -> str:
    try:
        return (
            f"{100 * bd_rate(reference['bpp'], reference[metric], test['bpp'], test[metric]):+.1f}%"
        )
    except (LicError, KeyError):
        return "no overlap"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", nargs="+", help="lic result files (lic eval --json)")
    parser.add_argument("--anchors", default="results/kodak")
    parser.add_argument(
        "--published",
        default=str(Path(__file__).resolve().parents[2] / "shared" / "anchors" / "published"),
    )
    parser.add_argument("--plot", default="results/kodak/rd.png")
    parser.add_argument("--images", default="Kodak", help="what the results were measured on")
    args = parser.parse_args()

    references = [Path(args.anchors) / f"{name}.json" for name in ANCHORS]
    if args.published:
        references += [Path(args.published) / path for path in PUBLISHED]
    missing = [str(p) for p in references if not p.exists()]
    references = [p for p in references if p.exists()]

    for path in args.results:
        curve = load_curve(path)
        r = curve["results"]
        print(f"\n### {curve['name']} on {args.images} ({path})\n")
        print("| quality | bpp | PSNR (dB) | MS-SSIM | MS-SSIM (dB) | encode (s) | decode (s) |")
        print("|---|---|---|---|---|---|---|")
        for i in range(len(r["bpp"])):
            print(
                f"| {r['quality'][i]} | {r['bpp'][i]:.4f} | {r['psnr-rgb'][i]:.2f} | "
                f"{r['ms-ssim-rgb'][i]:.4f} | {r['ms-ssim-db'][i]:.2f} | "
                f"{r['encoding_time'][i]:.2f} | {r['decoding_time'][i]:.2f} |"
            )
        print("\n| against | BD-rate (PSNR) | BD-PSNR | BD-rate (MS-SSIM) |")
        print("|---|---|---|---|")
        for ref_path in references:
            ref = load_curve(ref_path)
            rr = ref["results"]
            try:
                gain = f"{bd_quality(rr['bpp'], rr['psnr-rgb'], r['bpp'], r['psnr-rgb']):+.2f} dB"
            except (LicError, KeyError):
                gain = "no overlap"
            print(
                f"| {ref['name']} ({ref_path.name}) | {_bd(rr, r, 'psnr-rgb')} | {gain} | "
                f"{_bd(rr, r, 'ms-ssim-db')} |"
            )
    if missing:
        print(f"\nmissing (not measured here): {', '.join(missing)}")
    plot_curves([*args.results, *references], args.plot)
    print(f"\nRD plot: {args.plot}")


if __name__ == "__main__":
    main()
