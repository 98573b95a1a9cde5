"""The variable-rate model beside fixed-rate models of the same architecture (Kodak, from
`lic eval` result files): their points at the integer qualities, the BD-rate of the
variable-rate curve against the fixed-rate one, and the CPU hours each took (training records).

    python benchmarks/vr_vs_fixed.py results/kodak/bmshj2018-hyperprior-vr.json \
        results/kodak/bmshj2018-hyperprior-fixed.json --vr-run runs/hyperprior-vr \
        --fixed-runs runs/fixed-q1 runs/fixed-q2 ...
"""

from __future__ import annotations

import argparse
from pathlib import Path

from training_record import record

from lic.evaluate.bd import bd_quality, bd_rate
from lic.evaluate.results import load_curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variable", help="lic eval result of the variable-rate model")
    parser.add_argument("fixed", help="lic eval result of the fixed-rate models")
    parser.add_argument("--vr-run", type=Path, help="training run of the variable-rate model")
    parser.add_argument("--fixed-runs", type=Path, nargs="*", default=[])
    args = parser.parse_args()

    variable = load_curve(args.variable)["results"]
    fixed = load_curve(args.fixed)["results"]
    print("| quality | variable-rate bpp | PSNR | fixed-rate bpp | PSNR |")
    print("|---|---|---|---|---|")
    for i, q in enumerate(fixed["quality"]):
        j = [float(v) for v in variable["quality"]].index(float(q))
        print(
            f"| {q} | {variable['bpp'][j]:.4f} | {variable['psnr-rgb'][j]:.2f} | "
            f"{fixed['bpp'][i]:.4f} | {fixed['psnr-rgb'][i]:.2f} |"
        )
    curves = (fixed["bpp"], fixed["psnr-rgb"], variable["bpp"], variable["psnr-rgb"])
    print(
        f"\nvariable-rate against fixed-rate, BD-rate (PSNR) {100 * bd_rate(*curves):+.1f}%, "
        f"BD-PSNR {bd_quality(*curves):+.2f} dB"
    )
    ssim = (fixed["bpp"], fixed["ms-ssim-db"], variable["bpp"], variable["ms-ssim-db"])
    print(f"variable-rate against fixed-rate, BD-rate (MS-SSIM) {100 * bd_rate(*ssim):+.1f}%")
    if args.vr_run:
        vr = record(args.vr_run)
        print(f"\nvariable-rate model: {vr['steps']} steps, {vr['cpu_hours']:.2f} CPU hours")
    total = 0.0
    for run in args.fixed_runs:
        r = record(run)
        total += r["cpu_hours"]
        print(f"{run.name}: {r['steps']} steps from {r['init']}, {r['cpu_hours']:.2f} CPU hours")
    if args.fixed_runs:
        print(f"fixed-rate runs in all: {total:.2f} CPU hours")


if __name__ == "__main__":
    main()
