"""A bounded run of the decoder fuzzer (`benchmarks/fuzz.py`) on the default model.

Every mutated file (bit flips, truncations, splices, swapped streams, extreme header fields,
with the CRC kept and recomputed) must decode to an image of its header's size or raise
LicError: an exception of another type, a crash, a hang or running out of memory fails the
test, and its message lists each such outcome with the command that replays it.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lic.defaults import DEFAULT_MODEL
from lic.models.registry import get_spec, shipped

FUZZ = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz.py"
SECONDS = 35  # plus ~5 s to start and make the seeds, and at most one timeout to finish
TIMEOUT = 5


def test_mutated_files_decode_or_raise_lic_error(tmp_path):
    if not shipped(get_spec(DEFAULT_MODEL)):
        pytest.skip(f"no shipped weights for {DEFAULT_MODEL}")
    state = tmp_path / "state.json"
    run = subprocess.run(
        [sys.executable, str(FUZZ), "--models", DEFAULT_MODEL, "--seconds", str(SECONDS)]
        + ["--timeout", str(TIMEOUT), "--state", str(state)]
        + ["--failures", str(tmp_path / "failures"), "--report-every", "1000"],
        capture_output=True,
        text=True,
        timeout=SECONDS + 60,
    )
    assert state.exists(), run.stdout + run.stderr
    record = json.loads(state.read_text())
    counts = record["counts"]
    bad = {k: n for k, n in counts.items() if k not in ("error", "decoded") and n}
    assert not bad and run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    # The harness itself works: enough cases, the unchanged seeds decode, and the mutations
    # reach past the checksum into many different checks, not only "checksum mismatch".
    assert record["cases"] >= 1000, run.stdout
    assert counts["decoded"] > 0 and counts["error"] > 0, run.stdout
    assert len(record["errors"]) >= 8, run.stdout
