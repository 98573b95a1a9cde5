"""Two training runs of a variable-rate model compared on their held-out validation curves
(the `"val"` lines `lic train --holdout K` writes: estimated rate, per quality): each shared
validation step's points and the BD-rate (PSNR) of run B against run A.

    python benchmarks/val_ab.py runs/hp-vr-plain runs/hp-vr-balanced

A cheap A/B between training recipes; a shipped model is judged on Kodak by `lic eval`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lic.evaluate.bd import bd_rate


def validation(run: Path) -> dict[int, dict[str, dict[str, float]]]:
    """{step: {quality: {"bpp", "psnr"}}} from a run's log."""
    rows = (json.loads(line) for line in (run / "log.jsonl").read_text().splitlines())
    return {row["step"]: row["val"] for row in rows if "val" in row}


def curve(points: dict[str, dict[str, float]]) -> tuple[list[str], list[float], list[float]]:
    """(qualities, bpp, PSNR), lowest quality first."""
    qualities = sorted(points, key=float)
    rates = [points[q]["bpp"] for q in qualities]
    return qualities, rates, [points[q]["psnr"] for q in qualities]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("a", type=Path, help="run folder A (the reference)")
    parser.add_argument("b", type=Path, help="run folder B")
    args = parser.parse_args()
    a, b = validation(args.a), validation(args.b)
    for step in sorted(set(a) & set(b)):
        (qualities, rate_a, psnr_a), (_, rate_b, psnr_b) = curve(a[step]), curve(b[step])
        ends = " ".join(
            f"q{qualities[i]}: A {rate_a[i]:.3f}/{psnr_a[i]:.2f} B {rate_b[i]:.3f}/{psnr_b[i]:.2f}"
            for i in (0, -1)
        )
        change = 100 * bd_rate(rate_a, psnr_a, rate_b, psnr_b)
        print(f"step {step:6d}  BD-rate B vs A {change:+6.2f}%  ({ends}; bpp/dB)")


if __name__ == "__main__":
    main()
