"""The training record of a run, from its checkpoint and log: steps, crops, batch, data, and
the wall and CPU time of every process that trained it.

Each process writes a {"start": step, "time": t} line when it starts and "time"/"cpu_s" on every
log line, so a segment's wall time is its last log time minus its start time. Lines written
before those fields existed form one segment timed by its running mean of steps/s.

    python benchmarks/training_record.py runs/hyperprior-vr
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

#: Threads of the early processes that logged no CPU time (all of this machine's 2 cores).
LEGACY_THREADS = 2


def segments(rows: list[dict]) -> list[dict]:
    """[{start, end, wall_s, cpu_s}] per training process, from the log lines."""
    found: list[dict] = []
    for row in rows:
        if "start" in row:
            found.append(
                {
                    "start": row["start"],
                    "end": row["start"],
                    "t0": row.get("time"),
                    "lr": row.get("lr"),
                    "balance": row.get("balance"),  # --balance (None: not logged then)
                    "quantization": row.get("quantization"),  # --quantization (likewise)
                }
            )
            continue
        if not found:
            found.append({"start": 0, "end": 0, "t0": None})
        segment = found[-1]
        segment["end"] = row["step"]
        if segment["t0"] is None:  # legacy line: the running mean of steps/s since start
            segment["wall_s"] = (row["step"] - segment["start"]) / row["steps_per_s"]
        else:
            segment["wall_s"] = row["time"] - segment["t0"]
            segment["cpu_s"] = row.get("cpu_s")
    return [{k: v for k, v in s.items() if k != "t0"} for s in found]


def record(run: Path) -> dict:
    state = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)
    config = json.loads(state["config"])
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line]
    parts = segments([r for r in rows if "start" in r or "steps_per_s" in r])
    wall = sum(p.get("wall_s", 0.0) for p in parts)
    cpu = sum(p.get("cpu_s") or p.get("wall_s", 0.0) * LEGACY_THREADS for p in parts)
    return {
        "model": config["model"],
        "init": config.get("init"),  # the weights it started from, if any
        "stage": config.get("stage"),  # of a model trained in stages (hu2020), else None
        "steps": state["step"],
        "batch": config["batch"],
        "crop": config["crop"],
        "learning_rate": config["lr"],
        "decay_at": config.get("decay_at"),  # lr ×0.1 after this fraction of the steps
        "init_lr_scale": config.get("init_lr_scale", 1.0),  # of the tensors from init
        "relearn": config.get("relearn", []),  # ... but these prefixes at learning_rate
        "freeze": config.get("freeze", []),  # prefixes held as init gave them
        "balance": config.get("balance", False),
        "quantization": config.get("quantization", "noise"),
        "metric": config.get("metric", "mse"),
        "data": config["data"],
        "holdout_images": config["holdout"],
        "bf16_autocast": config["bf16"],
        "wall_hours": round(wall / 3600, 3),
        "cpu_hours": round(cpu / 3600, 3),
        "segments": parts,
    }


if __name__ == "__main__":
    print(json.dumps(record(Path(sys.argv[1])), indent=1))
