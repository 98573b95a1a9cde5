"""`lic eval`: every image compressed to a real .lic file and decoded from it."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lic.codec import decode, encode, model_for, open_image
from lic.evaluate.measure import measure, reference
from lic.evaluate.results import summarize
from lic.models.registry import weights_digest


def evaluate_model(
    name: str,
    qualities: list[float],
    files: list[Path],
    weights: str | None = None,
    progress: bool = True,
    refine: int = 0,
) -> dict:
    """Result document of model `name` at each quality over `files`; "weights_digest" names the
    weights measured at each quality (the digest .lic headers carry). In `weights`, "{quality}"
    stands for each quality: fixed-rate models of other weights than the shipped ones.
    `refine`: steps of encoder-side latent refinement for every file (`lic.refine`), which the
    document's name says ("NAME --refine STEPS")."""
    points: dict[str, list[dict]] = {}
    digests: dict[str, str] = {}
    bar = tqdm(total=len(qualities) * len(files), disable=not progress, desc=name)
    images = [(path, reference(path), open_image(path)) for path in files]  # read once
    with tempfile.TemporaryDirectory() as tmp:
        for quality in qualities:
            weights_path = weights.replace("{quality}", f"{quality:g}") if weights else None
            model, model_quality = model_for(name, quality, weights_path)
            digests[f"{quality:g}"] = weights_digest(model).hex()
            rows = []
            for path, ref, image in images:
                start = time.perf_counter()
                data = encode(model, image, model_quality, refine=refine)
                out = Path(tmp) / f"{path.stem}.lic"
                out.write_bytes(data)
                encoded = time.perf_counter()
                decoded = np.array(decode(out.read_bytes(), model).convert("RGB"))
                done = time.perf_counter()
                rows.append(
                    measure(
                        path.name, ref, decoded, out.stat().st_size, encoded - start, done - encoded
                    )
                )
                bar.update(1)
            points[f"{quality:g}"] = rows
    bar.close()
    description = f"lic eval, real .lic files, weights {weights or 'shipped'}"
    if refine:
        description += f", {refine} steps of latent refinement"
    label = f"{name} --refine {refine}" if refine else name
    document = summarize(label, description, points)
    return {**document, "weights_digest": digests, "refine": refine}
