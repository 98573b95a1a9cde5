"""`lic bench`: every model is timed at a quality it has."""

import json

import pytest

from lic import catalog
from lic.evaluate.bench import nearest_quality
from tests.cli.test_cli import lic
from tests.conftest import synthetic_photo


@pytest.mark.parametrize(
    ("name", "asked", "coded"),
    [
        ("mentzer2018", 4, 3),
        ("mentzer2018", 0.2, 1),
        ("mentzer2018", 2, 2),
        ("bmshj2018-hyperprior", 8.6, 8),
        ("bmshj2018-hyperprior-vr", 4.5, 4.5),
    ],
)
def test_a_fixed_rate_model_is_timed_at_its_nearest_quality(name, asked, coded):
    assert nearest_quality(name, asked) == coded


def test_every_fixed_rate_model_has_the_quality_bench_picks():
    for name, entry in catalog.MODELS.items():
        if not entry.variable_rate:
            assert nearest_quality(name, 4) in entry.configs, name


def test_bench_times_a_fixed_rate_model_without_quality_4(tmp_path):
    """The default --quality 4 is not one of mentzer2018's (1–3): it was an error."""
    from PIL import Image

    image = tmp_path / "small.png"
    Image.fromarray(synthetic_photo(64, 96, seed=3)).save(image)
    rows = tmp_path / "rows.json"
    result = lic(
        "bench", "--model", "mentzer2018", "bmshj2018-hyperprior-vr",
        "--image", image, "--repeats", "1", "--json", rows,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert "quality 3: its nearest" in out
    assert "decode/hyperprior" in out
    by_model = {row["model"]: row for row in json.loads(rows.read_text())}
    assert by_model["mentzer2018"]["quality"] == 3
    assert by_model["bmshj2018-hyperprior-vr"]["quality"] == 4
    assert all(row["decode_s"] > 0 for row in by_model.values())
