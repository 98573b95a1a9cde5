"""hu2020 (Hu, Yang & Liu 2020): every decoded layer is the encoder's; the staged training
trains what each stage should; stage 3 starts from stage 2's reconstruction."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from lic.models import CoarseToFine
from lic.train import TrainConfig, export, train
from lic.train.loop import _build
from tests.conftest import synthetic_photo, tiny


def _photo(height: int, width: int) -> torch.Tensor:
    return torch.from_numpy(synthetic_photo(height, width)).permute(2, 0, 1)[None].float() / 255


@pytest.mark.parametrize("size", [(64, 192), (192, 128)])
def test_each_decoded_layer_equals_the_encoders(size):
    """ẑ1 = round(z1), ẑ2 = round(z2 − μ2) + μ2 with μ2 from ẑ1 (float64), ŷ the eval
    forward's: decoded from the three streams, each exactly."""
    model = tiny(CoarseToFine, rate_points=9)
    x = _photo(*size)
    q = model.quality_tensor(2.5, 1)
    with torch.no_grad():
        y = model.analyze(x, q)
        z2, z1 = model._hyper_latents(y, q)
        z1_hat = torch.round(z1)
        scales2, means2 = model._psi2(z1_hat, q).chunk(2, 1)
        z2_hat = torch.round(z2.double() - means2) + means2
        y_hat = model(x, 2.5).y_hat
        compressed = model.compress(x, 2.5)
        decoders = model.decoders(compressed.streams, compressed.shapes)
        decoded = model._decode(decoders, compressed.shapes, q, 64)
    assert compressed.shapes == model.latent_shapes(*size)
    assert torch.equal(decoded[2], z1_hat)
    assert torch.equal(decoded[1], z2_hat)
    assert torch.equal(decoded[0], y_hat)
    for decoder in decoders:
        decoder.check_finished()


def test_z1_is_coded_under_its_channels_scales_times_its_gain():
    model = tiny(CoarseToFine, rate_points=9)
    with torch.no_grad():
        model.z1_log_scales.normal_()
        model.gains["z1"].log_gain.normal_()
        q = model.quality_tensor(6.0, 1)
        scales = model._z1_scales(q, torch.Size([1, model.Z, 2, 3]))
    expected = model.z1_log_scales.exp() * model.gains["z1"].gain(q).flatten()
    assert torch.allclose(scales[0, :, 1, 2].float(), expected)


def test_sigma_and_mu_of_y_and_z2_follow_their_gains():
    """The estimation networks predict (σ, μ) before the latent's gain: at every quality the
    coded parameters are the network's output times that quality's gain, even where the layer
    above is all zeros (which alone could not tell the qualities apart)."""
    model = tiny(CoarseToFine, rate_points=9).eval()
    with torch.no_grad():
        for latent in ("y", "z2"):
            model.gains[latent].log_gain.normal_()
        zeros = torch.zeros(1, model.Z, 2, 3, dtype=torch.float64)
        for quality in (0.0, 3.5, 8.0):
            q = model.quality_tensor(quality, 1)
            h1 = model._h1(zeros, q)
            expected = model.estimation2(h1) * model.gains["z2"].gain(q).repeat(1, 2, 1, 1)
            assert torch.allclose(model._psi2(zeros, q), expected)
            at = (slice(0, 4), slice(0, 6))
            h2 = model._h2(zeros, q)
            expected = model.estimation3(h2) * model.gains["y"].gain(q).repeat(1, 2, 1, 1)
            assert torch.allclose(model._psi3(zeros, q, at), expected)


def test_stage_3_starts_from_stage_2s_reconstruction():
    """The aggregation's last layer starts at zero: stage 2's weights in a stage-3 model give
    stage 2's image, and the layer that reads h1 and h2 is the one that moves first."""
    torch.manual_seed(0)
    stage2 = CoarseToFine(16, 24, 9, stage=2).eval()
    stage3 = CoarseToFine(16, 24, 9, stage=3).eval()
    missing, unexpected = stage3.load_state_dict(stage2.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("aggregation.") for k in missing)
    x = _photo(128, 128)
    with torch.no_grad():
        assert torch.allclose(stage3(x, 4.0).x_hat, stage2(x, 4.0).x_hat, atol=1e-6)
    torch.nn.init.normal_(stage3.aggregation.fuse[-1].weight)
    with torch.no_grad():
        assert not torch.allclose(stage3(x, 4.0).x_hat, stage2(x, 4.0).x_hat, atol=1e-3)


def test_stage_1_does_not_code():
    model = CoarseToFine(16, 24, 9, stage=1).eval()
    with pytest.raises(Exception, match="stage-1"):
        model.compress(_photo(64, 64), 3.0)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for i in range(3):
        Image.fromarray(synthetic_photo(96, 96, seed=i)).save(folder / f"p{i}.png")
    return folder


def _run(
    photos, out, stage: int, init=None, steps: int = 2, freeze: tuple[str, ...] = ()
) -> tuple[dict, dict]:
    """Train `stage` for `steps` from `init`, `freeze` held; (weights before, weights after)."""
    config = TrainConfig(
        model="hu2020-vr",
        data=str(photos),
        out=str(out),
        steps=steps,
        batch=2,
        crop=64,
        channels=(16, 24),
        threads=1,
        stage=stage,
        init=init,
        freeze=freeze,
        lr=1e-3,
        progress=False,
        max_short_side=None,
        log_every=1,
    )
    torch.manual_seed(config.seed)
    before = {k: v.clone() for k, v in _build(config).state_dict().items()}
    checkpoint = train(config)
    after = torch.load(checkpoint, weights_only=True)["model"]
    export(checkpoint, out / "weights.safetensors")
    return before, after


def _moved(before: dict, after: dict) -> set[str]:
    """The top-level parts whose tensors changed (gains named by latent)."""
    parts = set()
    for key, value in after.items():
        if not torch.equal(before[key], value):
            name = key.split(".")
            parts.add(".".join(name[:2]) if name[0] == "gains" else name[0])
    return parts


MAIN = {"analysis", "synthesis", "gains.y", "gains.y_inverse"}
HYPER = {
    "hyper_analysis2",
    "hyper_analysis1",
    "hyper_synthesis1",
    "hyper_synthesis2",
    "estimation2",
    "estimation3",
    "z1_log_scales",
    "gains.z2",
    "gains.z2_inverse",
    "gains.z1",
    "gains.z1_inverse",
}


def test_each_stage_trains_what_it_should(photos, tmp_path):
    """Stage 1: the main transforms and the factorized density of y; stage 2 adds the hyper
    layers, not the aggregation; stage 3 everything. Each starts from the last's weights."""
    before, after = _run(photos, tmp_path / "s1", 1)
    assert _moved(before, after) == MAIN | {"y_density"}
    start2 = str(tmp_path / "s1" / "weights.safetensors")
    before, after = _run(photos, tmp_path / "s2", 2, init=start2)
    assert "y_density.quantiles" not in after
    assert _moved(before, after) == MAIN | HYPER
    start3 = str(tmp_path / "s2" / "weights.safetensors")
    # stage 2's weights hold no untrained aggregation for stage 3 to take as trained
    assert not any(k.startswith("aggregation.") for k in load_file(start3))
    before, after = _run(photos, tmp_path / "s3", 3, init=start3)
    assert _moved(before, after) == MAIN | HYPER | {"aggregation"}
    # Every tensor of the aggregation moves once its last layer is no longer zero.
    aggregation = [k for k in after if k.startswith("aggregation.")]
    assert all(not torch.equal(before[k], after[k]) for k in aggregation)


def test_stage_2_with_the_transforms_frozen_trains_the_hyper_layers_alone(photos, tmp_path):
    """`--freeze analysis synthesis gains.y`: the hyper path learns on the y that --init's
    transforms give, and none of those transforms moves."""
    _run(photos, tmp_path / "s1", 1)
    start2 = str(tmp_path / "s1" / "weights.safetensors")
    frozen = ("analysis", "synthesis", "gains.y")
    before, after = _run(photos, tmp_path / "s2", 2, init=start2, freeze=frozen)
    assert _moved(before, after) == HYPER


def test_stage_applies_only_to_staged_models(photos, tmp_path):
    config = TrainConfig(
        model="bmshj2018-hyperprior-vr", data=str(photos), out=str(tmp_path), stage=2
    )
    with pytest.raises(Exception, match="not trained in stages"):
        train(config)
