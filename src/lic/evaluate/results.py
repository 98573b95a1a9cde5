"""Result files: one JSON per method, in CompressAI's schema so published files read the same.

{"name": str, "description": str,
 "results": {"bpp": [..], "psnr-rgb": [..], "ms-ssim-rgb": [..], "ms-ssim-db": [..],
             "quality": [..], "encoding_time": [..], "decoding_time": [..]},
 "per_image": {"<quality>": [{"image", "bpp", "psnr-rgb", "ms-ssim-rgb", ...}, ..]}}
Each list under "results" has one entry per rate point: the mean over the images.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from lic.errors import LicError

METRICS = ("bpp", "psnr-rgb", "ms-ssim-rgb", "ms-ssim-db", "encoding_time", "decoding_time")


def summarize(name: str, description: str, points: dict[str, list[dict]]) -> dict:
    """Build a result document from per-image rows grouped by rate point (quality)."""
    results: dict[str, list] = {"quality": []}
    for quality, rows in points.items():
        results["quality"].append(quality)
        for metric in METRICS:
            values = [r[metric] for r in rows if metric in r and not math.isnan(r[metric])]
            if values:
                results.setdefault(metric, []).append(sum(values) / len(values))
    order = sorted(range(len(results["quality"])), key=lambda i: results["bpp"][i])
    results = {k: [v[i] for i in order] for k, v in results.items()}
    return {"name": name, "description": description, "results": results, "per_image": points}


def save(document: dict, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(document, indent=1) + "\n")


def load_curve(path: str | Path) -> dict:
    """Read a result JSON (ours or a published one); the curve sorted by bpp."""
    try:
        document = json.loads(Path(path).read_text())
        results = document["results"]
        bpp = results["bpp"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise LicError(f"{path} is not a result file: {error}") from None
    order = sorted(range(len(bpp)), key=lambda i: bpp[i])
    curve = {
        k: [v[i] for i in order]
        for k, v in results.items()
        if isinstance(v, list) and len(v) == len(bpp)
    }
    if "ms-ssim-rgb" in curve and "ms-ssim-db" not in curve:
        curve["ms-ssim-db"] = [-10 * math.log10(1 - v) for v in curve["ms-ssim-rgb"]]
    return {"name": document.get("name", Path(path).stem), "results": curve}
