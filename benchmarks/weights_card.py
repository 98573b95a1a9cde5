"""Write the record that ships beside a model's weights: its Kodak figures (from a `lic eval`
result file, measured on real files), the digest of the weights, and the training record.

    python benchmarks/weights_card.py bmshj2018-hyperprior-vr runs/hyperprior-vr \
        results/kodak/bmshj2018-hyperprior-vr.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from training_record import record

from lic.models.registry import get_spec, load, weights_digest


def card(name: str, run: Path, evaluation: Path) -> Path:
    spec = get_spec(name)
    model = load(name)
    document = json.loads(evaluation.read_text())
    digest = weights_digest(model).hex()
    if set(document.get("weights_digest", {}).values()) != {digest}:
        raise SystemExit(f"{evaluation} was not measured with the shipped weights ({digest})")
    out = spec.weights_path(None if spec.variable_rate else model.quality).with_suffix(".json")
    out.write_text(
        json.dumps(
            {
                "model": name,
                "weights_digest": digest,
                "kodak": {
                    "measured_by": f"lic eval <kodak> --model {name} --quality "
                    + " ".join(str(q) for q in document["results"]["quality"]),
                    "images": len(next(iter(document["per_image"].values()))),
                    "results": document["results"],
                    "per_image": document["per_image"],
                },
                "training": record(run),
            },
            indent=1,
        )
        + "\n"
    )
    return out


if __name__ == "__main__":
    print(card(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])))
