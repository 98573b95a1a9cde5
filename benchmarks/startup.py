"""Start-up of the `lic` command beside `python -c "import torch"`, in one run: each command is
a whole process timed from outside (start to exit), the commands taken in turn round after
round so that a drift of the machine's speed falls on all of them; medians (min–max).

    python benchmarks/startup.py [--runs 7]

`lic models` and `lic info` should not import torch (a fraction of a second); `lic compress`
of a 256² image pays torch's import, the model's load and one encode.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    rng = np.random.default_rng(0)
    photo = folder / "photo.png"
    Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(photo)
    script = Path(sys.executable).parent / "lic"  # the console script, as a user runs it
    lic = [str(script)] if script.exists() else [sys.executable, "-m", "lic"]
    subprocess.run(
        [*lic, "compress", str(photo), "-o", str(folder / "photo.lic")],
        check=True,
        capture_output=True,
    )
    commands = {
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
        "lic models": [*lic, "models"],
        "lic info photo.lic": [*lic, "info", str(folder / "photo.lic")],
        "lic compress photo.png (256²)": [
            *lic,
            "compress",
            str(photo),
            "-o",
            str(folder / "out.lic"),
        ],
    }
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs + 1):  # the first round warms the file cache and is not counted
        for name, command in commands.items():
            start = time.monotonic()
            subprocess.run(command, check=True, capture_output=True)
            seconds[name].append(time.monotonic() - start)
    print(f"median of {args.runs} (min–max), whole process, seconds")
    for name, values in seconds.items():
        values = values[1:]
        print(f"{name:32s} {statistics.median(values):.3f}  ({min(values):.3f}–{max(values):.3f})")


if __name__ == "__main__":
    main()
