"""`lic plot`: RD curves (bpp–PSNR and bpp–MS-SSIM in dB) of several result files, one PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lic.evaluate.results import load_curve  # noqa: E402


def plot_curves(
    paths: list[str | Path], out: str | Path, title: str = "Kodak", max_bpp: float = 2.0
) -> None:
    """Draw every result file's curve into `out`; published files are dashed."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5))
    colours = plt.cm.tab20.colors
    for index, path in enumerate(paths):
        curve = load_curve(path)
        results = curve["results"]
        published = "published" in str(path)
        style, label = ("--", f"{curve['name']} (published)") if published else ("-", curve["name"])
        points = [i for i, b in enumerate(results["bpp"]) if b <= max_bpp]
        bpp = [results["bpp"][i] for i in points]
        for axis, metric in ((left, "psnr-rgb"), (right, "ms-ssim-db")):
            if metric in results:
                axis.plot(
                    bpp,
                    [results[metric][i] for i in points],
                    style,
                    marker=".",
                    label=label,
                    color=colours[index % len(colours)],
                    linewidth=1 if published else 1.6,
                )
    left.set(xlabel="bits per pixel", ylabel="PSNR (RGB) [dB]", title=f"{title}: PSNR")
    right.set(xlabel="bits per pixel", ylabel="MS-SSIM [dB]", title=f"{title}: MS-SSIM")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
