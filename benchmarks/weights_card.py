"""Write the record that ships beside a model's weights: its Kodak figures (from a `lic eval`
result file, measured on real files with exactly these weights: the digests must match), the
digest of the weights, and the training record.

    python benchmarks/weights_card.py bmshj2018-hyperprior-vr runs/hyperprior-vr \
        results/kodak/bmshj2018-hyperprior-vr.json
    python benchmarks/weights_card.py bmshj2018-hyperprior runs/fixed-q1 \
        results/kodak/bmshj2018-hyperprior-fixed.json --quality 1

Weights continued from earlier shipped ones (`lic train --init`) name those weights' card with
`--previous`: its training record (which holds its own predecessors') is kept under "previous",
and "total_cpu_hours" adds this run's CPU hours to the whole chain's. A model trained in stages
names each earlier stage's run folder too, newest first, then the card its first stage started
from:

    python benchmarks/weights_card.py hu2020-vr runs/hu3 runs/hu2020-vr-kodak.json \
        --previous runs/hu2 src/lic/weights/he2021-checkerboard-vr.json

Unchanged weights measured again (e.g. after a format change moved every file size) keep their
card's training record: pass `-` as the run.

    python benchmarks/weights_card.py bmshj2018-hyperprior-vr - \
        results/kodak/bmshj2018-hyperprior-vr.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from training_record import record

from lic.models.registry import get_spec, load_weights, weights_digest


def _training(path: Path) -> dict:
    """The training record of a run folder, or the one kept in a weights card."""
    return record(path) if path.is_dir() else json.loads(path.read_text())["training"]


def _continued(training: dict, before: dict) -> dict:
    """`training` with the record it continued (which holds its own predecessors) under
    "previous", and the CPU hours of the whole chain."""
    chain = before.get("total_cpu_hours", before["cpu_hours"])
    total = round(training["cpu_hours"] + chain, 3)
    return training | {"previous": [before], "total_cpu_hours": total}


def card(
    name: str,
    run: Path | None,
    evaluation: Path,
    quality: int | None = None,
    previous: Sequence[Path] = (),
) -> Path:
    spec = get_spec(name)
    model = spec.build(quality)  # not lic.load: that checks the weights against this very card
    load_weights(model, spec.weights_path(quality))
    document = json.loads(evaluation.read_text())
    digest = weights_digest(model).hex()
    points = list(document["per_image"]) if spec.variable_rate else [f"{quality:g}"]
    measured = document.get("weights_digest", {})
    if any(measured.get(point) != digest for point in points):
        raise SystemExit(f"{evaluation} was not measured with the shipped weights ({digest})")
    columns = [document["results"]["quality"].index(point) for point in points]
    results = {k: [v[i] for i in columns] for k, v in document["results"].items()}
    out = spec.weights_path(quality).with_suffix(".json")
    if run is None:
        training = json.loads(out.read_text())["training"]
    else:
        training = record(run)
    chain = None
    for earlier in reversed(previous):  # the oldest first: each record holds the ones before it
        chain = _training(earlier) if chain is None else _continued(_training(earlier), chain)
    if chain is not None:
        training = _continued(training, chain)
    out.write_text(
        json.dumps(
            {
                "model": name,
                "weights_digest": digest,
                "kodak": {
                    "measured_by": f"lic eval <kodak> --model {name} --quality {' '.join(points)}",
                    "images": len(document["per_image"][points[0]]),
                    "results": results,
                    "per_image": {point: document["per_image"][point] for point in points},
                },
                "training": training,
            },
            indent=1,
        )
        + "\n"
    )
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name")
    parser.add_argument("run", help="the training run folder, or - to keep the card's record")
    parser.add_argument("evaluation", type=Path)
    parser.add_argument("--quality", type=int, help="the quality of a fixed-rate model")
    parser.add_argument(
        "--previous",
        type=Path,
        nargs="+",
        default=[],
        help="what it continued, newest first: earlier stages' run folders, then a weights card",
    )
    args = parser.parse_args()
    run = None if args.run == "-" else Path(args.run)
    print(card(args.name, run, args.evaluation, args.quality, args.previous))
