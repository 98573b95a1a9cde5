"""Metrics, real-file evaluation of lic models and of a classical codec, and the RD plot."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from lic.evaluate.anchors import ANCHORS, evaluate_anchor
from lic.evaluate.learned import evaluate_model
from lic.evaluate.metrics import ms_ssim, psnr
from lic.evaluate.plot import plot_curves
from lic.evaluate.results import load_curve, save
from lic.models.registry import get_spec, save_weights, weights_digest
from tests.conftest import synthetic_photo


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    for i in range(2):
        Image.fromarray(synthetic_photo(170, 180 + 8 * i, seed=i)).save(folder / f"i{i}.png")
    return sorted(folder.iterdir())


def test_psnr_and_ms_ssim():
    a = synthetic_photo(200, 200)
    b = a.copy()
    b[0, 0, 0] ^= 4
    expected = 10 * math.log10(255**2 / (16 / a.size))
    assert psnr(a, b) == pytest.approx(expected)
    assert ms_ssim(a, a) == pytest.approx(1.0, abs=1e-6)
    assert ms_ssim(a, np.clip(a.astype(int) + 30, 0, 255).astype(np.uint8)) < 1
    assert math.isnan(ms_ssim(a[:100, :100], a[:100, :100]))  # too small for five scales


def test_lic_eval_measures_real_files(images, tmp_path):
    torch.manual_seed(0)
    weights = tmp_path / "w.safetensors"
    save_weights(get_spec("bmshj2018-hyperprior-vr").build(None), weights)
    document = evaluate_model(
        "bmshj2018-hyperprior-vr", [2.0, 6.5], images, str(weights), progress=False
    )
    rows = document["per_image"]["2"]
    assert [r["image"] for r in rows] == ["i0.png", "i1.png"]
    from lic.codec import encode, model_for, open_image

    model, q = model_for("bmshj2018-hyperprior-vr", 2.0, str(weights))
    size = len(encode(model, open_image(images[0]), q))
    assert rows[0]["bpp"] == pytest.approx(8 * size / (170 * 180))
    assert document["results"]["bpp"][0] == pytest.approx(np.mean([r["bpp"] for r in rows]))
    # The weights measured are named by the digest their files carry.
    assert document["weights_digest"] == {
        "2": weights_digest(model).hex(),
        "6.5": weights_digest(model).hex(),
    }
    save(document, tmp_path / "r.json")
    assert load_curve(tmp_path / "r.json")["results"]["quality"] == ["2", "6.5"]


def test_lic_eval_measures_refined_files(images, tmp_path):
    """With `refine`, the sizes are those of the refined files, and the name says so."""
    from lic.codec import encode, model_for, open_image

    name = "he2021-checkerboard-vr"  # shipped weights: refinement finds a better file
    model, q = model_for(name, 3.0)
    plain = len(encode(model, open_image(images[0]), q))
    refined = len(encode(model, open_image(images[0]), q, refine=10))
    assert refined != plain
    document = evaluate_model(name, [3.0], images[:1], progress=False, refine=10)
    assert document["per_image"]["3"][0]["bpp"] == pytest.approx(8 * refined / (170 * 180))
    assert document["name"] == f"{name} --refine 10" and document["refine"] == 10


def test_lic_eval_of_fixed_rate_models_with_weights_per_quality(images, tmp_path):
    spec, digests = get_spec("bmshj2018-hyperprior"), {}
    for q in (1, 2):
        torch.manual_seed(q)
        model = spec.build(q)
        save_weights(model, tmp_path / f"fixed-q{q}.safetensors")
        digests[str(q)] = weights_digest(model).hex()
    pattern = str(tmp_path / "fixed-q{quality}.safetensors")
    document = evaluate_model(spec.name, [1, 2], images[:1], pattern, progress=False)
    assert document["weights_digest"] == digests and digests["1"] != digests["2"]


def test_a_classical_anchor_through_its_real_tools(images, tmp_path):
    anchor = dataclasses.replace(ANCHORS["jpeg-420"], settings=(30, 90))
    if anchor.missing():
        pytest.skip(
            f"jpeg-420 anchor: {', '.join(anchor.missing())} not installed "
            "(scripts/install-anchors.sh)"
        )
    document = evaluate_anchor(anchor, images[:1], progress=False)
    low, high = document["per_image"]["30"][0], document["per_image"]["90"][0]
    assert 0 < low["bpp"] < high["bpp"] and low["psnr-rgb"] < high["psnr-rgb"]


def test_plot_draws_several_curves(tmp_path):
    for name, shift in (("a", 0), ("b", 1)):
        doc = {
            "name": name,
            "results": {
                "bpp": [0.2, 0.5, 1.0],
                "psnr-rgb": [28 + shift, 31, 34],
                "ms-ssim-rgb": [0.95, 0.97, 0.99],
            },
        }
        (tmp_path / f"{name}.json").write_text(json.dumps(doc))
    out = tmp_path / "rd.png"
    plot_curves([tmp_path / "a.json", tmp_path / "b.json"], out)
    assert Image.open(out).size[0] > 500
