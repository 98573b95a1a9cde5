"""Where a model's weights are found, and the card beside them (importable without torch).

Weights are safetensors files named after the model (`<name>.safetensors` for a
variable-rate model, `<name>-q<Q>.safetensors` for a fixed-rate quality), stored in 16 bits
(float16) and upcast to float32 when they load (`lic.models.registry.load_weights`). Beside
each, `<file>.json` is its card: the digest of the weights as loaded, their Kodak figures and
their training record.

They are looked for in two places, in this order:

1. this folder, inside the `lic` package. The `lic` wheel holds the default codec's weights
   here (pyproject.toml's package-data); a clone of the repository holds every model's.
2. the model's companion distribution, `lic-weights-<name>` (e.g. `pip install
   lic-weights-bmshj2018-hyperprior-vr`), whose one package `lic_weights_<name>` (dashes as
   underscores) holds the same files. The companions are built from this repository
   (`packages/lic-weights-<name>/`), as spaCy ships its language models: the wheel of `lic`
   stays small whatever number of models is added. Finding one imports nothing.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from lic.errors import LicError

#: The weights inside the `lic` package.
WEIGHTS_DIR = Path(__file__).resolve().parent


def companion(name: str) -> str:
    """The distribution that releases model `name`'s weights outside the `lic` wheel."""
    return f"lic-weights-{name}"


def companion_module(name: str) -> str:
    """The importable package of `companion(name)`: the weights files sit in its folder."""
    return "lic_weights_" + name.replace("-", "_").replace(".", "_")


def companion_folder(name: str) -> Path | None:
    """The folder of model `name`'s companion package where one is installed, else None.

    Found on the import path without importing it (a weights package runs no code)."""
    try:
        spec = importlib.util.find_spec(companion_module(name))
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def locate(name: str, stem: str) -> Path | None:
    """The weights file `<stem>.safetensors` of model `name`: in the package, else in its
    companion; None where neither holds it."""
    filename = f"{stem}.safetensors"
    inside = WEIGHTS_DIR / filename
    if inside.exists():
        return inside
    folder = companion_folder(name)
    if folder is not None and (folder / filename).exists():
        return folder / filename
    return None


def card(path: Path) -> dict | None:
    """The record beside weights `path` (`<file>.json`: their digest, Kodak figures and
    training record; shipped weights always have one), or None without one."""
    record_path = path.with_suffix(".json")
    if not record_path.exists():
        return None
    try:
        record = json.loads(record_path.read_text())
        digest = record["weights_digest"]
    except (OSError, ValueError, KeyError, TypeError):
        digest = None
    if not isinstance(digest, str):  # unreadable, or e.g. a `lic eval` result file
        raise LicError(f"cannot read the weights digest recorded in {record_path}")
    return record
