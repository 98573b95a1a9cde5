"""Weights in 16 bits: convert a model's float32 weights to float16 or bfloat16 and measure
what it costs on Kodak, against the float32 weights' result file.

    python benchmarks/half_weights.py bmshj2018-hyperprior-vr --dtype float16 \
        [--weights W.safetensors] [--reference results/kodak/NAME.json] [--integer] \
        [--out runs/half]

1. The float32 weights (the shipped file unless `--weights`) are rounded to `--dtype`
   (`lic.models.registry.state_as`) and written to OUT/NAME-DTYPE.safetensors.
2. `lic eval` measures them on Kodak in a child process with one thread (as the records are
   measured), at the qualities of the reference file (`--integer`: its integer ones only),
   into OUT/NAME-DTYPE-kodak.json (OUT/NAME-DTYPE-integer-kodak.json): not NAME-DTYPE.json,
   the name of the weights' card, so that `lic eval --weights OUT/NAME-DTYPE.safetensors`
   on other images does not take the result file for one.
3. BD-rate (PSNR and MS-SSIM) of the 16-bit curve against the reference at the same qualities
   (the reference's other points left out, so that only the weights differ; a `--reference` of
   other weights, e.g. the default's for a new model, makes it a comparison with those, though
   the line still says "float32"), printed and
   written to OUT/NAME-DTYPE.bd.json; the reference's subset is written beside it, so that
   `lic bd OUT/NAME-float32.json OUT/NAME-DTYPE.json` prints the same figures.

An existing result file in OUT is reused (delete it to measure again). To ship the weights,
copy OUT/NAME-DTYPE.safetensors over the shipped file and write its card from a full eval
(`benchmarks/weights_card.py NAME - OUT/NAME-DTYPE-kodak.json`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from lic.evaluate.bd import bd_quality, bd_rate
from lic.evaluate.results import load_curve
from lic.models.registry import get_spec, state_as

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"
DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


def convert(source: Path, target: Path, dtype: torch.dtype) -> None:
    """Write float32 weights `source` with their floating-point tensors rounded to `dtype`."""
    state = load_file(str(source))
    if any(v.is_floating_point() and v.dtype != torch.float32 for v in state.values()):
        sys.exit(f"{source} is not float32: pass the float32 weights with --weights")
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file(state_as(state, dtype), str(target))


def subset(reference: dict, qualities: list[str]) -> dict:
    """`reference`'s result document at `qualities` only."""
    columns = [reference["results"]["quality"].index(q) for q in qualities]
    return {
        **reference,
        "description": f"{reference.get('description', '')} (qualities {' '.join(qualities)})",
        "results": {k: [v[i] for i in columns] for k, v in reference["results"].items()},
        "per_image": {q: reference["per_image"][q] for q in qualities},
        "weights_digest": {q: reference["weights_digest"][q] for q in qualities},
    }


def evaluate(name: str, weights: Path, qualities: list[str], out: Path, kodak: Path) -> None:
    """`lic eval` of `weights` on one thread, in a child process."""
    command = ["lic", "eval", str(kodak), "--model", name, "--weights", str(weights)]
    command += ["--quality", *qualities, "--json", str(out), "--no-progress"]
    print(" ".join(command), flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    subprocess.run(command, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float16")
    parser.add_argument("--weights", type=Path, help="float32 weights (default: the shipped)")
    parser.add_argument("--reference", type=Path, help="their Kodak result file")
    parser.add_argument("--integer", action="store_true", help="integer qualities only")
    parser.add_argument("--kodak", type=Path, default=KODAK)
    parser.add_argument("--out", type=Path, default=Path("runs/half"))
    args = parser.parse_args()

    source = args.weights or get_spec(args.name).weights_path(None)
    reference_path = args.reference or Path("results/kodak") / f"{args.name}.json"
    reference = json.loads(reference_path.read_text())
    qualities = reference["results"]["quality"]
    if args.integer:
        qualities = [q for q in qualities if float(q) == int(float(q))]

    half = args.out / f"{args.name}-{args.dtype}.safetensors"
    convert(source, half, DTYPES[args.dtype])
    tag = "-integer" if args.integer else ""
    stem = args.out / f"{args.name}-{args.dtype}{tag}"
    result = stem.with_name(stem.name + "-kodak.json")
    if not result.exists():
        evaluate(args.name, half, qualities, result, args.kodak)
    reference_subset = args.out / f"{args.name}-float32{tag}.json"
    reference_subset.write_text(json.dumps(subset(reference, qualities), indent=1) + "\n")

    ref, test = load_curve(reference_subset)["results"], load_curve(result)["results"]
    rates = (ref["bpp"], test["bpp"])
    psnr = (ref["psnr-rgb"], test["psnr-rgb"])
    ms_ssim = (ref["ms-ssim-db"], test["ms-ssim-db"])
    figures = {
        "model": args.name,
        "dtype": args.dtype,
        "qualities": qualities,
        "bytes": {"float32": source.stat().st_size, args.dtype: half.stat().st_size},
        "bd_rate_psnr_percent": 100 * bd_rate(rates[0], psnr[0], rates[1], psnr[1]),
        "bd_psnr_db": bd_quality(rates[0], psnr[0], rates[1], psnr[1]),
        "bd_rate_ms_ssim_percent": 100 * bd_rate(rates[0], ms_ssim[0], rates[1], ms_ssim[1]),
        "reference": str(reference_path),
        "command": f"lic bd {reference_subset} {result}",
    }
    stem.with_suffix(".bd.json").write_text(json.dumps(figures, indent=1) + "\n")
    print(
        f"{args.name} {args.dtype} against float32 ({len(qualities)} qualities): "
        f"BD-rate (PSNR) {figures['bd_rate_psnr_percent']:+.3f}%, "
        f"BD-PSNR {figures['bd_psnr_db']:+.4f} dB, "
        f"BD-rate (MS-SSIM) {figures['bd_rate_ms_ssim_percent']:+.3f}%; "
        f"{figures['bytes']['float32']} → {figures['bytes'][args.dtype]} bytes"
    )


if __name__ == "__main__":
    main()
