"""Encoder-side latent refinement (`lic.refine`) and its annealed rounding."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lic import refine
from lic.codec import decode, encode
from lic.entropy import soft_round
from lic.errors import LicError
from lic.models import FactorizedPrior, JointAutoregressive, load
from lic.models.cheng2020 import Cheng2020Anchor
from lic.refine import MAX_PIXELS, rd_lambda, refine_latents
from lic.train.loss import LAMBDAS
from tests.conftest import MODEL_CLASSES, has_variable_rate, synthetic_photo, tiny


def test_soft_round_lands_between_the_neighbouring_integers_and_becomes_rounding() -> None:
    torch.manual_seed(0)
    x = torch.randn(4000) * 3
    offset = torch.rand(4000) - 0.5
    floor = torch.floor(x - offset) + offset
    for temperature in (0.5, 0.1):
        sample = soft_round(x, offset, temperature)
        assert torch.all(sample >= floor - 1e-6) and torch.all(sample <= floor + 1 + 1e-6)
    # r ≠ ½ by a margin: at a small temperature the nearer integer wins every time.
    clear = ((x - offset) - torch.floor(x - offset) - 0.5).abs() > 0.05
    rounded = torch.round(x - offset) + offset
    cold = soft_round(x, offset, 0.01)
    assert torch.allclose(cold[clear], rounded[clear], atol=1e-4)


def test_soft_round_prefers_the_nearer_integer_and_passes_gradients() -> None:
    torch.manual_seed(0)
    x = torch.full((20000,), 0.2, requires_grad=True)
    sample = soft_round(x, 0.0, 0.5)
    assert 0.0 < float(sample.detach().mean()) < 0.2  # pulled towards 0, the nearer integer
    sample.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_lambda_follows_the_table_and_interpolates_geometrically() -> None:
    model = load("elic2022-vr")
    for quality in range(9):
        assert rd_lambda(model, torch.tensor([float(quality)])) == pytest.approx(
            LAMBDAS["mse"][quality]
        )
    between = rd_lambda(model, torch.tensor([4.5]))
    assert between == pytest.approx(math.sqrt(LAMBDAS["mse"][4] * LAMBDAS["mse"][5]))
    ms_ssim = rd_lambda(load("elic2022-ms-ssim-vr"), torch.tensor([3.0]))
    assert ms_ssim == pytest.approx(LAMBDAS["ms-ssim"][3])
    assert rd_lambda(tiny(FactorizedPrior), None) == LAMBDAS["mse"][1]  # fixed rate: quality 1


def _rd_cost(data: bytes, image: np.ndarray, lmbda: float) -> float:
    """Real bits per pixel of `data` plus λ·255²·MSE of its decoded image."""
    decoded = np.asarray(decode(data).convert("RGB"), dtype=np.float64)
    mse = np.mean((decoded - image.astype(np.float64)) ** 2)
    return 8 * len(data) / (image.shape[0] * image.shape[1]) + lmbda * mse


def test_refinement_lowers_the_real_cost_of_a_photo(kodak: Path) -> None:
    """The files, not an estimate: the refined file's size plus λ·D of its decoded pixels is
    lower than the plain encoder's, at a low and a high quality (the shipped default on a
    crop of a Kodak photo)."""
    model = load("elic2022-vr")
    pixels = np.array(Image.open(kodak / "kodim05.png").convert("RGB"))[128:384, 256:512]
    image = Image.fromarray(pixels)
    for quality in (1.0, 6.0):
        lmbda = LAMBDAS["mse"][int(quality)]
        plain = _rd_cost(encode(model, image, quality), pixels, lmbda)
        refined = _rd_cost(encode(model, image, quality, refine=30), pixels, lmbda)
        assert refined < plain * 0.98


def test_refinement_that_fails_keeps_the_encoders_latents(monkeypatch) -> None:
    """Steps far too large wreck the latents: the encoder's own are kept, exactly."""
    monkeypatch.setattr(refine, "LEARNING_RATE", 50.0)
    model = load("elic2022-vr")
    x = torch.from_numpy(synthetic_photo(128, 192, seed=3)).permute(2, 0, 1)[None]
    q = model.quality_tensor(4.0, 1)
    with torch.no_grad():
        y, z = model._latents(x.float() / 255, q)
    kept = refine.refine_latents(model, x, y, z, q, 5)
    assert torch.equal(kept[0], y) and torch.equal(kept[1], z)


def _tiny_vr(cls: type) -> torch.nn.Module:
    return tiny(cls, 9 if has_variable_rate(cls) else 0)


REFINABLE = [c for c in MODEL_CLASSES if _tiny_vr(c).refinable]


def test_which_models_refine() -> None:
    """Every hyperprior model whose training forward follows the annealed rounding; not the
    factorized prior, nor the serial raster context (its training context sees noise)."""
    names = {c.family for c in REFINABLE}
    assert {"bmshj2018-hyperprior", "he2021-checkerboard", "elic2022", "minnen2020"} <= names
    assert not names & {"bmshj2018-factorized", "mbt2018", "hu2020", "mentzer2018"}
    assert not Cheng2020Anchor(**Cheng2020Anchor.small_sizes, quality=1, context="raster").refinable


@pytest.mark.parametrize("cls", REFINABLE, ids=lambda c: c.family)
def test_refined_files_decode_and_refinement_leaves_the_model_as_it_was(cls: type) -> None:
    model = _tiny_vr(cls)
    quality = 3.5 if model.variable_rate else None
    # Not a multiple of the stride (padded); MS-SSIM's five scales need 161 pixels a side.
    side = 170 if cls.metric == "ms-ssim" else 70
    image = Image.fromarray(synthetic_photo(side, side + 20))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    frozen = next(iter(model.parameters())).requires_grad_(False)
    rng = torch.get_rng_state()
    first = encode(model, image, quality, refine=3)
    assert encode(model, image, quality, refine=3) == first  # the same file every time
    assert torch.equal(torch.get_rng_state(), rng)
    assert not model.training
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert not frozen.requires_grad
    assert sum(not p.requires_grad for p in model.parameters()) == 1
    assert all(m.temperature is None for m in model.entropy_models())
    assert decode(first, model).size == image.size


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda c: c.family)
def test_every_model_takes_refine_and_those_without_refuse_any_but_zero(cls: type) -> None:
    """`compress` has one signature for every model: `refine=0` codes as without it, and a model
    that cannot refine refuses more, itself (not only through `lic.codec.encode`)."""
    model = _tiny_vr(cls)
    quality = 3.0 if model.variable_rate else None
    x = torch.from_numpy(synthetic_photo(64, 64)).permute(2, 0, 1)[None].float() / 255
    assert model.compress(x, quality, refine=0).streams == model.compress(x, quality).streams
    if not model.refinable:
        with pytest.raises(LicError, match="no latent refinement"):
            model.compress(x, quality, refine=1)


def test_refinement_is_refused_where_it_cannot_run(
    photo: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    for refused in (tiny(FactorizedPrior), tiny(JointAutoregressive)):
        with pytest.raises(LicError, match="no latent refinement"):
            encode(refused, photo, refine=5)
    model = load("elic2022-vr")
    side = math.isqrt(MAX_PIXELS) + 64
    big = torch.zeros(1, 3, side, side)
    with pytest.raises(LicError, match="megapixels"):
        refine_latents(model, big, torch.zeros(1), torch.zeros(1), None, 1)
    # compress refuses it before spending the analysis of the whole image
    monkeypatch.setattr(model, "analyze", lambda *_: pytest.fail("analysed, then refused"))
    with pytest.raises(LicError, match="megapixels"):
        model.compress(big, 4.0, refine=1)
    with pytest.raises(LicError, match="161 pixels a side"):
        encode(load("elic2022-ms-ssim-vr"), photo, 4.0, refine=5)
    with pytest.raises(LicError, match="0 or more"):
        refine_latents(model, big[..., :64, :64], torch.zeros(1), torch.zeros(1), None, -1)
