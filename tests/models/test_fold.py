"""Folding a variable-rate model's gains into a fixed-rate twin (`lic fold`)."""

import pytest
import torch

from lic.errors import LicError
from lic.models import ELIC
from lic.models.registry import fold, folded, get_spec, load, save_weights, weights_digest
from tests.conftest import has_variable_rate, synthetic_photo, tiny
from tests.models.test_roundtrip import MODELS


def _photo(height: int, width: int) -> torch.Tensor:
    return torch.from_numpy(synthetic_photo(height, width)).permute(2, 0, 1)[None].float() / 255


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("points,quality", [(8, 1.0), (8, 4.5), (9, 0.0), (9, 8.0)])
def test_folded_twin_computes_what_the_variable_rate_model_does(cls, points, quality):
    if not has_variable_rate(cls):
        pytest.skip("a fixed-rate-only model has no gains to fold")
    variable = tiny(cls, rate_points=points)
    with torch.no_grad():  # gains that differ per channel, so a wrong axis cannot pass
        for p in variable.gains.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    if "y" not in variable.gain_sites:  # y's transforms end and start in other layers
        with pytest.raises(LicError, match="no fixed-rate twin"):
            variable.fold_gains(quality)
        if cls is not ELIC:
            return
        torch.manual_seed(0)  # ELIC on GDN transforms folds
        variable = ELIC(**ELIC.small_sizes, rate_points=points, transforms="gdn").eval()
        fixed = ELIC(**ELIC.small_sizes, transforms="gdn", quality=1).eval()
    else:
        fixed = tiny(cls)
    fixed.load_state_dict(variable.fold_gains(quality))
    x = _photo(64, 64)
    with torch.no_grad():
        a, b = variable(x, quality), fixed(x)
    torch.testing.assert_close(b.x_hat, a.x_hat, rtol=0, atol=1e-4)
    for key, likelihood in a.likelihoods.items():
        bits_a, bits_b = -likelihood.log2().sum(), -b.likelihoods[key].log2().sum()
        torch.testing.assert_close(bits_b, bits_a, rtol=1e-4, atol=1e-2)


def test_fold_writes_a_loadable_fixed_rate_model_coding_the_same_streams(tmp_path):
    spec = get_spec("bmshj2018-hyperprior-vr")
    weights = spec.weights_path(None)
    if not weights.exists():
        torch.manual_seed(0)
        weights = tmp_path / "vr.safetensors"
        save_weights(spec.build(None), weights)
    folded = tmp_path / "q2.safetensors"
    save_weights(fold(spec.name, 2, weights), folded)
    fixed = load("bmshj2018-hyperprior", 2, weights=folded)
    variable = load(spec.name, weights=weights)
    x = _photo(128, 192)
    assert fixed.compress(x).streams == variable.compress(x, 2.0).streams


def test_fold_refuses_what_does_not_fold():
    with pytest.raises(LicError, match="not a variable-rate model"):
        fold("bmshj2018-hyperprior", 2)
    with pytest.raises(LicError, match="do not fold"):  # quality 6 is built with N=192, M=320
        fold("bmshj2018-hyperprior-vr", 6)
    with pytest.raises(LicError, match="fixed qualities"):
        fold("bmshj2018-hyperprior-vr", 2.5)


def test_fixed_qualities_without_weights_are_folded_from_the_shipped_twin():
    spec = get_spec("bmshj2018-hyperprior")
    if not get_spec("bmshj2018-hyperprior-vr").weights_path(None).exists():
        pytest.skip("no shipped bmshj2018-hyperprior-vr weights")
    # Qualities 1–5 share the variable-rate model's N=128, M=192; 6–8 are N=192, M=320.
    expected = [q for q in range(1, 6) if not spec.weights_path(q).exists()]
    assert folded(spec) == expected
    for q in expected[:1]:
        assert weights_digest(load(spec.name, q)) == weights_digest(fold(f"{spec.name}-vr", q))
    assert folded(get_spec("bmshj2018-hyperprior-vr")) == []
