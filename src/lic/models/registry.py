"""The one table of models: name → constructor, per-quality hyper-parameters and weights.

Each model file registers its models once, at import. Fixed-rate models have one entry per
quality (1–8, the field's λ table) and ship `<name>-q<Q>.safetensors`; a variable-rate model
has a single entry (key 0) and ships `<name>.safetensors`, with its quality chosen at coding
time. Kodak figures and the training record sit beside the weights as `<file>.json`. The same
names, qualities and sizes are plain data in `lic.catalog` (what `lic models` reads without
torch); the weights are found in the package or in a companion distribution (`lic.weights`),
stored in 16 bits and upcast to float32 here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from lic import catalog, weights
from lic.entropy.base import stamp
from lic.errors import LicError
from lic.models.base import lowest_quality

#: How shipped weights are stored: half the bytes of float32, upcast when they load. float16
#: over bfloat16: its 10-bit mantissa moved Kodak BD-rates less (docs/training-log.md).
SHIPPED_DTYPE = torch.float16


@dataclass(frozen=True)
class ModelSpec:
    """One registered model: how to build it at each quality and where its weights live."""

    name: str
    builder: Callable[..., Any]
    configs: dict[int, dict[str, Any]]
    variable_rate: bool = False

    @property
    def lowest_quality(self) -> int:
        """A variable-rate model's lowest quality."""
        return lowest_quality(self.configs[0]["rate_points"])

    def config(self, quality: float | None) -> dict[str, Any]:
        return self.configs[self._key(quality)]

    def _key(self, quality: float | None) -> int:
        if self.variable_rate:
            return 0
        if quality is None or float(quality) != int(quality) or int(quality) not in self.configs:
            raise LicError(f"{self.name} has fixed qualities {sorted(self.configs)}; got {quality}")
        return int(quality)

    @property
    def entry(self) -> catalog.Entry:
        """This model as `lic.catalog` lists it (plain data)."""
        return catalog.Entry(self.name, self.configs, self.variable_rate)

    def weights_path(self, quality: float | None) -> Path:
        """Where the shipped weights are (the package, else the companion distribution); the
        package's path where neither holds them."""
        key = None if self.variable_rate else self._key(quality)
        found = catalog.weights_path(self.entry, key)
        return found or weights.WEIGHTS_DIR / f"{self.entry.stem(key)}.safetensors"

    def build(self, quality: float | None, **sizes: Any) -> torch.nn.Module:
        """The model at `quality` (a fixed-rate one's; None for a variable-rate model),
        untrained; `sizes` override the catalog's (e.g. N and M, for training)."""
        fixed = {} if self.variable_rate else {"quality": self._key(quality)}
        model = self.builder(**{**self.config(quality), **sizes}, **fixed)
        if model.name != self.name:
            raise ValueError(f"{type(model).__name__} names itself {model.name}, not {self.name}")
        return model


REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in REGISTRY:
        raise ValueError(f"model {spec.name!r} is registered twice")
    REGISTRY[spec.name] = spec
    return spec


def register_family(builder: Callable[..., Any]) -> None:
    """Register the class `builder` under every name of its family in `lic.catalog` (its
    fixed-rate qualities and its variable-rate variant `<family>-vr`, where listed), with the
    sizes listed there: the catalog is the one list of models and their sizes, each model
    class declares its family (`CompressionModel.family`)."""
    names = [n for n in (builder.family, f"{builder.family}-vr") if n in catalog.MODELS]
    if not names:
        raise ValueError(f"lic/catalog.py lists no model of the family {builder.family!r}")
    for name in names:
        entry = catalog.MODELS[name]
        register(ModelSpec(name, builder, entry.configs, entry.variable_rate))


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise LicError(f"unknown model {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


def shipped(spec: ModelSpec) -> list[int]:
    """Qualities of `spec` whose shipped weights are installed (in the package or a companion
    distribution; key 0 for a variable-rate model)."""
    return catalog.installed(spec.entry)


def _sizes(variable: ModelSpec) -> dict[str, Any]:
    """A variable-rate model's constructor arguments less its rate points: what a fixed-rate
    quality must be built with for the variable-rate weights to fold into it."""
    return {k: v for k, v in variable.config(None).items() if k != "rate_points"}


def folded(spec: ModelSpec) -> list[int]:
    """Fixed qualities of `spec` without weights of their own that its variable-rate twin's
    installed weights fold into (same N, M and other sizes)."""
    twin = REGISTRY.get(f"{spec.name}-vr")
    return catalog.folded(spec.entry, None if twin is None else twin.entry)


def save_weights(
    model: torch.nn.Module, path: str | Path, dtype: torch.dtype = torch.float32
) -> None:
    """Write the model's state dict as safetensors (tensors only, nothing executable), its
    floating-point tensors as `dtype` (`SHIPPED_DTYPE` for weights to ship)."""
    save_file(state_as(model.state_dict(), dtype), str(path))


def state_as(state: dict[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """`state` with its floating-point tensors as `dtype` (rounded to nearest), ready to save."""
    return {
        k: (v.to(dtype) if v.is_floating_point() else v).detach().contiguous().cpu()
        for k, v in state.items()
    }


def load_weights(model: torch.nn.Module, path: str | Path, partial: bool = False) -> int:
    """Load safetensors weights into `model`; a mismatch is a clear LicError.

    16-bit tensors (how weights ship, `SHIPPED_DTYPE`) are upcast to float32 exactly: the
    model computes in float32 whatever the file stores. `partial` loads every tensor whose
    name and shape match and leaves the rest as they are (to start a model from another's
    weights, e.g. mbt2018-mean from the scale hyperprior). Returns how many tensors were loaded.
    """
    try:
        state = load_file(str(path))
    except (OSError, SafetensorError) as error:
        raise LicError(f"cannot read weights {path}: {error}") from None
    state = {
        k: v.float() if v.dtype in (torch.float16, torch.bfloat16) else v for k, v in state.items()
    }
    if partial:
        own = model.state_dict()
        state = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        if not state:
            raise LicError(f"no tensor of {path} fits {getattr(model, 'name', 'this model')}")
    try:
        model.load_state_dict(state, strict=not partial)
    except RuntimeError:
        raise LicError(
            f"weights {path} do not fit {getattr(model, 'name', 'this model')}"
        ) from None
    return len(state)


def weights_digest(model: torch.nn.Module) -> bytes:
    """8-byte digest of the model's parameters, written into every .lic header.

    Memoized on the model until a tensor changes (identity, storage or in-place version), so
    coding file after file hashes the weights once."""
    state = model.state_dict(keep_vars=True)
    current = stamp(state.values())
    cached = model.__dict__.get("_weights_digest")
    if cached is not None and cached[0] == current:
        return cached[1]
    digest = hashlib.sha256()
    for key, tensor in sorted(state.items()):
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    model.__dict__["_weights_digest"] = (current, digest.digest()[:8])
    return model.__dict__["_weights_digest"][1]


def load(
    name: str, quality: float | None = None, weights: str | Path | None = None
) -> torch.nn.Module:
    """Build model `name` at `quality`, load its weights (shipped unless `weights` is given),
    build its coder tables and put it in eval mode. A fixed-rate quality without shipped
    weights of its own is folded from the shipped variable-rate twin where it fits (`fold`)."""
    spec = get_spec(name)
    if weights is None and not spec.weights_path(quality).exists():  # (checks the quality)
        if int(quality or 0) in folded(spec):
            return fold(f"{name}-vr", int(quality))
    return _ready(_with_weights(spec, quality, weights))


def _with_weights(
    spec: ModelSpec, quality: float | None, weights: str | Path | None
) -> torch.nn.Module:
    """Model `spec` at `quality` with its weights loaded (shipped unless `weights` is given)."""
    model = spec.build(quality)
    path = Path(weights) if weights is not None else spec.weights_path(quality)
    if not path.exists():
        if weights is None:
            key = None if spec.variable_rate else spec._key(quality)
            raise LicError(catalog.missing_weights(spec.name, key))
        raise LicError(f"weights file {path} does not exist")
    load_weights(model, path)
    verify_weights(model, path)
    return model


#: The record beside weights (their digest, Kodak figures and training record), or None.
weights_card = weights.card


def verify_weights(model: torch.nn.Module, path: Path) -> None:
    """Refuse weights whose digest differs from the one recorded in their card
    (`weights_card`). Without a card nothing is checked."""
    record = weights_card(path)
    if record is None:
        return
    recorded, card = record["weights_digest"], path.with_suffix(".json")
    if weights_digest(model).hex() != recorded:
        raise LicError(
            f"weights {path} do not match the digest recorded in {card.name} "
            f"({weights_digest(model).hex()} ≠ {recorded}): the file was changed or replaced"
        )


def _ready(model: torch.nn.Module) -> torch.nn.Module:
    """Eval mode and coder tables built: ready to code."""
    model.eval()
    model.update()
    return model


def fold(name: str, quality: int, weights: str | Path | None = None) -> torch.nn.Module:
    """The fixed-rate model that variable-rate model `name` is at integer `quality`.

    The gains are folded into the adjoining convolutions (`CompressionModel.fold_gains`), so the
    result is model `name` without "-vr", at that quality, computing the same function: a
    fixed-rate model to ship, to compare with, or to fine-tune at that quality's λ.
    """
    spec = get_spec(name)
    if not spec.variable_rate:
        raise LicError(f"{name} is not a variable-rate model: nothing to fold")
    twin = get_spec(name.removesuffix("-vr"))
    config = _sizes(spec)
    if twin.config(quality) != config:
        raise LicError(
            f"{twin.name} at quality {quality} is built with {twin.config(quality)}, "
            f"{name} with {config}: the weights do not fold into it"
        )
    state = _with_weights(spec, None, weights).fold_gains(quality)  # no coder tables needed
    model = twin.build(quality)
    model.load_state_dict(state)
    return _ready(model)
