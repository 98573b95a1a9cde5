"""Where weights come from (lic.weights, lic.catalog): 16-bit files upcast on load, the model
table without torch equal to the registry's, companion distributions found or named when
missing, and the packaging that decides what the lic wheel holds."""

import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import lic
from lic import catalog, codec, weights
from lic.defaults import DEFAULT_MODEL
from lic.errors import LicError
from lic.models import registry

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
NAME = "bmshj2018-factorized-vr"  # the smallest shipped model
SHIPPED = weights.WEIGHTS_DIR  # the package's folder (tests may empty it)


def test_the_catalog_is_the_registry():
    """Every registered model is listed, with the same constructor arguments, and nothing else:
    `lic models` (which reads the catalog) cannot drift from what `lic.load` builds."""
    unlisted = set(registry.REGISTRY) - set(catalog.MODELS)
    assert not unlisted, f"registered but not in lic/catalog.py: {sorted(unlisted)}"
    assert set(catalog.MODELS) == set(registry.REGISTRY), "in lic/catalog.py, not registered"
    for name, spec in registry.REGISTRY.items():
        entry = catalog.MODELS[name]
        assert entry.variable_rate == spec.variable_rate, name
        assert entry.configs == spec.configs, f"{name}: lic/catalog.py has other sizes"
        if spec.variable_rate:
            assert entry.lowest_quality == spec.lowest_quality, name


@pytest.mark.parametrize("name", sorted(n for n, s in registry.REGISTRY.items() if s.variable_rate))
def test_shipped_weights_are_16_bit_and_load_as_float32(name):
    spec = registry.get_spec(name)
    if not registry.shipped(spec):
        pytest.skip(f"{name} has no weights installed")
    stored = load_file(str(spec.weights_path(None)))
    assert {v.dtype for v in stored.values()} == {registry.SHIPPED_DTYPE}
    model = registry.load(name)
    assert {p.dtype for p in model.state_dict().values()} == {torch.float32}
    state = model.state_dict()
    assert all(torch.equal(state[k], v.float()) for k, v in stored.items())


def test_state_as_rounds_to_nearest_and_keeps_integer_tensors():
    state = {"w": torch.tensor([1 + 2**-11 + 2**-12, 1 / 3]), "n": torch.tensor([3])}
    half = registry.state_as(state, torch.float16)
    assert half["w"].dtype == torch.float16 and half["n"].dtype == torch.int64
    assert half["w"].float().tolist() == [1 + 2**-10, pytest.approx(1 / 3, abs=2**-12)]


@pytest.fixture
def no_weights_in_the_package(tmp_path, monkeypatch) -> Iterator[Path]:
    """The package's weights folder emptied (a wheel install of lic without companions), and
    no model loaded before kept by the front door."""
    empty = tmp_path / "package-weights"
    empty.mkdir()
    monkeypatch.setattr(weights, "WEIGHTS_DIR", empty)
    codec.cached_model.cache_clear()
    yield empty
    codec.cached_model.cache_clear()


def _companion(folder: Path, name: str) -> Path:
    """Model `name`'s companion package built in `folder` from the repository's files, as
    packages/lic-weights-<name> builds it (an __init__ and the weights with their card)."""
    package = folder / weights.companion_module(name)
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""weights"""\n')
    for suffix in (".safetensors", ".json"):
        shutil.copy(SHIPPED / f"{name}{suffix}", package / f"{name}{suffix}")
    return package


def test_a_missing_companion_is_named_with_the_command_to_install_it(no_weights_in_the_package):
    package = weights.companion(NAME)
    with pytest.raises(LicError, match=f"not installed: pip install {package} "):
        registry.load(NAME)
    with pytest.raises(LicError, match=f"pip install {package}"):
        lic.compress(ROOT / "tests" / "data" / "v1-he2021-checkerboard-vr-q2.5.png", model=NAME)
    listed = {m.name: m for m in catalog.models()}[NAME]
    assert listed.shipped and not listed.installed and listed.package == package
    assert listed.kodak is None
    assert catalog.folded(catalog.MODELS["bmshj2018-factorized"], catalog.MODELS[NAME]) == []


def test_a_model_without_released_weights_says_to_train_them(no_weights_in_the_package):
    with pytest.raises(LicError, match="no shipped weights for minnen2020-vr; train them"):
        registry.load("minnen2020-vr")


def test_an_installed_companion_is_found_and_loaded(
    no_weights_in_the_package, tmp_path, monkeypatch
):
    """Found on the import path without importing it, loaded and checked against its card."""
    package = _companion(tmp_path / "site-packages", NAME)
    monkeypatch.syspath_prepend(str(tmp_path / "site-packages"))
    spec = registry.get_spec(NAME)
    assert spec.weights_path(None) == package / f"{NAME}.safetensors"
    model = registry.load(NAME, 3.0)
    card = weights.card(package / f"{NAME}.safetensors")
    assert registry.weights_digest(model).hex() == card["weights_digest"]
    assert weights.companion_module(NAME) not in sys.modules
    listed = {m.name: m for m in catalog.models()}
    assert listed[NAME].installed and listed[NAME].kodak == card["kodak"]["results"]
    assert listed["bmshj2018-factorized"].folded == (1, 2, 3, 4, 5)  # folded from the companion
    (package / f"{NAME}.json").write_text(json.dumps({**card, "weights_digest": "0" * 16}))
    with pytest.raises(LicError, match="do not match the digest"):  # a companion is checked too
        registry.load(NAME)


def test_a_json_beside_weights_that_is_no_card_is_refused_in_one_line(tmp_path):
    """A `lic eval` result file named like the weights (digests per quality) is not their
    card: loading says so instead of comparing a digest with a table of them."""
    model = registry.get_spec("bmshj2018-hyperprior-vr").build(None, N=8, M=12)
    path = tmp_path / "w.safetensors"
    registry.save_weights(model, path)
    digest = registry.weights_digest(model).hex()
    path.with_suffix(".json").write_text(json.dumps({"weights_digest": {"1": digest}}))
    with pytest.raises(LicError, match="cannot read the weights digest recorded in"):
        weights.card(path)
    path.with_suffix(".json").write_text(json.dumps({"weights_digest": digest}))
    assert weights.card(path)["weights_digest"] == digest


def test_the_wheel_holds_the_default_and_each_other_model_has_its_companion():
    """pyproject's package-data is the default codec's weights and card; every other model
    whose weights the repository holds is a companion with a buildable package directory whose
    files are the repository's (links, so there is one copy of each weights file)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_data = project["tool"]["setuptools"]["package-data"]["lic.weights"]
    assert sorted(package_data) == [f"{DEFAULT_MODEL}.json", f"{DEFAULT_MODEL}.safetensors"]
    assert project["tool"]["setuptools"]["include-package-data"] is False
    held = {p.stem for p in (ROOT / "src" / "lic" / "weights").glob("*.safetensors")}
    assert held - {DEFAULT_MODEL} == set(catalog.COMPANIONS)
    assert {p.name for p in (ROOT / "packages").iterdir()} == {
        weights.companion(n) for n in catalog.COMPANIONS
    }
    for name in catalog.COMPANIONS:
        folder = ROOT / "packages" / weights.companion(name)
        companion = tomllib.loads((folder / "pyproject.toml").read_text())
        module = weights.companion_module(name)
        assert companion["project"]["name"] == weights.companion(name)
        assert companion["tool"]["setuptools"]["packages"] == [module]
        for suffix in (".safetensors", ".json"):
            link = folder / "src" / module / f"{name}{suffix}"
            assert link.is_symlink() and link.resolve() == (
                ROOT / "src" / "lic" / "weights" / f"{name}{suffix}"
            )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git for a clean checkout")
def test_the_wheel_and_a_companion_build_with_the_files_they_should_hold(tmp_path):
    """Built from a clean copy of the working tree (no stale build/ or egg-info): the lic wheel
    holds one weights file, the default's; the companion holds its model's, links followed."""
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "runs", "results"),
    )
    out = tmp_path / "wheels"
    for project in (source, source / "packages" / weights.companion(NAME)):
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
            + [str(project), "-w", str(out)],
            check=True,
            capture_output=True,
        )
    (main,) = out.glob("lic-*.whl")
    (companion,) = out.glob("lic_weights_*.whl")
    held = [n for n in zipfile.ZipFile(main).namelist() if n.endswith(".safetensors")]
    assert held == [f"lic/weights/{DEFAULT_MODEL}.safetensors"]
    inside = zipfile.ZipFile(companion).namelist()
    module = weights.companion_module(NAME)
    assert f"{module}/{NAME}.safetensors" in inside and f"{module}/{NAME}.json" in inside
    size = zipfile.ZipFile(companion).getinfo(f"{module}/{NAME}.safetensors").file_size
    assert size == (ROOT / "src" / "lic" / "weights" / f"{NAME}.safetensors").stat().st_size
