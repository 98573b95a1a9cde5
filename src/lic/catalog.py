"""The models lic knows, as plain data: names, qualities, sizes and where their weights are.

Importable without torch, so that `lic models` and `lic.models()` answer at once; the
registry (`lic.models.registry`) maps the same names to their classes, and a test keeps the
two equal (every registered model here with the same constructor arguments, and nothing
else). Fixed-rate models have one configuration per quality (1–8, the field's λ table;
mentzer2018 1–3, its target rates); a
variable-rate model `<name>-vr` has one (key 0) whose `rate_points` gain vectors end at
quality 8.

    import lic
    [(m.name, m.qualities, m.installed) for m in lic.models()]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lic import weights
from lic.defaults import DEFAULT_MODEL

#: The top of the λ table: every variable-rate model's rate points end here.
HIGHEST_QUALITY = 8


@dataclass(frozen=True)
class Entry:
    """One model: its constructor arguments per quality (key 0 for a variable-rate model)."""

    name: str
    configs: Mapping[int, Mapping[str, Any]]
    variable_rate: bool = False

    @property
    def lowest_quality(self) -> int:
        """A variable-rate model's lowest quality (its rate points end at quality 8)."""
        return HIGHEST_QUALITY + 1 - self.configs[0]["rate_points"]

    @property
    def qualities(self) -> tuple[int, int] | tuple[int, ...]:
        """(lowest, highest) of a variable-rate model's continuous range, or the fixed ones."""
        if self.variable_rate:
            return (self.lowest_quality, HIGHEST_QUALITY)
        return tuple(sorted(self.configs))

    def stem(self, quality: int | None) -> str:
        """The weights' file name without suffix (quality: a fixed-rate model's)."""
        return self.name if self.variable_rate else f"{self.name}-q{quality}"


def _two_sizes(switch: int, high: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    """N=128/M=192 up to quality `switch`, `high` above it (the field's convention)."""
    low = {"N": 128, "M": 192}
    return {q: dict(low if q <= switch else high) for q in range(1, HIGHEST_QUALITY + 1)}


def _elic_sizes() -> dict[int, dict[str, Any]]:
    """ELIC's fixed-rate models: the paper's N=192/M=320 at every quality."""
    return {q: dict(_HIGH) for q in range(1, HIGHEST_QUALITY + 1)}


def _cheng_sizes() -> dict[int, dict[str, Any]]:
    """Cheng et al. 2020's models: N = M, 128 up to quality 3, 192 above."""
    return {q: {"N": 128 if q <= 3 else 192} for q in range(1, HIGHEST_QUALITY + 1)}


_HIGH = {"N": 192, "M": 320}
#: Variable-rate variants: the low-rate sizes and 9 rate points (qualities 0–8), or 8 (1–8)
#: for the families whose weights predate lic's quality 0.
_VR_0_TO_8 = {"N": 128, "M": 192, "rate_points": 9}
_VR_1_TO_8 = {"N": 128, "M": 192, "rate_points": 8}
#: ELIC's variable-rate variants: its context on the default's GDN transforms and sizes.
_ELIC_VR = {**_VR_0_TO_8, "transforms": "gdn"}

_FAMILIES: list[tuple[str, dict[int, dict[str, Any]], dict[str, Any] | None]] = [
    ("bmshj2018-factorized", _two_sizes(5, _HIGH), _VR_1_TO_8),
    ("bmshj2018-hyperprior", _two_sizes(5, _HIGH), _VR_1_TO_8),
    ("mbt2018-mean", _two_sizes(4, _HIGH), _VR_1_TO_8),
    (
        "mbt2018",
        {q: {"N": 192, "M": 192} if q <= 4 else dict(_HIGH) for q in range(1, 9)},
        None,
    ),
    ("he2021-checkerboard", _two_sizes(4, _HIGH), _VR_0_TO_8),
    # The former default's network trained for MS-SSIM (fine-tuned from its MSE weights).
    ("he2021-checkerboard-ms-ssim", _two_sizes(4, _HIGH), _VR_0_TO_8),
    ("minnen2020", _two_sizes(4, {**_HIGH, "slices": 10}), _VR_0_TO_8),
    # The paper's sizes at every quality; the variable-rate variant is ELIC's context on the
    # GDN transforms of the default, started from its weights (docs/training-log.md: why).
    ("elic2022", _elic_sizes(), _ELIC_VR),
    # The default's network trained for MS-SSIM (fine-tuned from its MSE weights).
    ("elic2022-ms-ssim", _elic_sizes(), _ELIC_VR),
    ("hu2020", _two_sizes(4, _HIGH), _VR_0_TO_8),
    # M = N; the field's N=128 up to quality 3, 192 above (CompressAI's zoo).
    ("cheng2020-anchor", _cheng_sizes(), {"N": 128, "rate_points": 9}),
    ("cheng2020-attn", _cheng_sizes(), {"N": 128, "rate_points": 9}),
    # Fixed-rate only: one model per target rate (lic.models.mentzer2018.TARGET_BPP).
    ("mentzer2018", {q: {"N": 128, "M": 32, "L": 6} for q in (1, 2, 3)}, None),
]


def _entries() -> dict[str, Entry]:
    table = {}
    for name, sizes, variable in _FAMILIES:
        table[name] = Entry(name, sizes)
        if variable is not None:
            table[f"{name}-vr"] = Entry(f"{name}-vr", {0: variable}, variable_rate=True)
    return table


#: Every model, by name.
MODELS: dict[str, Entry] = _entries()

#: Models whose weights lic releases outside its wheel, each as its companion distribution
#: `lic-weights-<name>` (`lic.weights`); the wheel holds the default codec's. A clone of the
#: repository holds them all in `src/lic/weights/`.
COMPANIONS = frozenset(
    {
        "bmshj2018-factorized-vr",
        "bmshj2018-hyperprior-vr",
        "mbt2018-mean-vr",
        "he2021-checkerboard-vr",
        "he2021-checkerboard-ms-ssim-vr",
        "elic2022-ms-ssim-vr",
        "hu2020-vr",
    }
)


def weights_path(entry: Entry, quality: int | None = None) -> Path | None:
    """Where `entry`'s weights (at a fixed-rate `quality`) are installed, or None."""
    return weights.locate(entry.name, entry.stem(quality))


def installed(entry: Entry) -> list[int]:
    """Qualities of `entry` whose weights are installed (key 0 for a variable-rate model)."""
    return [k for k in entry.configs if weights_path(entry, None if entry.variable_rate else k)]


def folded(entry: Entry, twin: Entry | None) -> list[int]:
    """Fixed qualities of `entry` without weights of their own that its variable-rate `twin`'s
    installed weights fold into (same N, M and other sizes)."""
    if entry.variable_rate or twin is None or not installed(twin):
        return []
    sizes = {k: v for k, v in twin.configs[0].items() if k != "rate_points"}
    own = installed(entry)
    return [q for q, c in entry.configs.items() if c == sizes and q not in own]


def missing_weights(name: str, quality: int | None = None) -> str:
    """Why model `name` has no weights here, and what to do about it (a LicError's text)."""
    if name in COMPANIONS:
        package = weights.companion(name)
        return (
            f"the weights of {name} are not installed: pip install {package} "
            f"(from a clone of lic: pip install ./packages/{package})"
        )
    at = "" if quality is None else f" at quality {quality}"
    return f"no shipped weights for {name}{at}; train them with `lic train` and pass --weights"


@dataclass(frozen=True)
class ModelInfo:
    """A model: its qualities, whether lic releases weights for it (`shipped`) and in which
    distribution (`package`: lic, or its companion), whether they are installed here, the
    fixed qualities folded from its installed variable-rate twin, and the Kodak figures of
    its installed weights (from their card)."""

    name: str
    variable_rate: bool
    qualities: tuple[int, int] | tuple[int, ...]
    shipped: bool
    installed: bool
    package: str | None
    folded: tuple[int, ...]
    kodak: dict[str, list[float]] | None


def models() -> list[ModelInfo]:
    """Every model, sorted by name (`lic models` prints this; `lic.models()` returns it)."""
    listed = []
    for name, entry in sorted(MODELS.items()):
        own = installed(entry)
        path = weights_path(entry, None if entry.variable_rate else own[0]) if own else None
        record = weights.card(path) if path else None
        companion = name in COMPANIONS
        listed.append(
            ModelInfo(
                name=name,
                variable_rate=entry.variable_rate,
                qualities=entry.qualities,
                shipped=bool(own) or companion or name == DEFAULT_MODEL,
                installed=bool(own),
                package=weights.companion(name) if companion else ("lic" if own else None),
                folded=tuple(folded(entry, MODELS.get(f"{name}-vr"))),
                kodak=record["kodak"]["results"] if record else None,
            )
        )
    return listed
