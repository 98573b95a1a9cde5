"""The target-rate objective of Mentzer et al. 2018 (lic.train.loss.target_rate_loss) and
`lic train` of a model that declares a target rate (mentzer2018)."""

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from lic.models.mentzer2018 import TARGET_BPP
from lic.models.registry import get_spec
from lic.train import TrainConfig, export, loop, train
from lic.train.loop import sample_qualities
from lic.train.loss import LAMBDAS, target_rate_loss
from tests.conftest import synthetic_photo


@pytest.mark.parametrize("target", [0.1, 0.5])
def test_the_loss_is_distortion_plus_the_hinge_on_the_rate_plus_the_context_rate(target):
    x = torch.rand(2, 3, 8, 8)
    likelihoods = {"z": torch.full((2, 4, 2, 2), 0.5), "importance": torch.full((2, 2, 2), 0.25)}
    context = {"z": torch.full((2, 4, 2, 2), 0.25), "importance": torch.full((2, 2, 2), 0.5)}
    lmbda = torch.tensor([0.01, 0.01])
    loss, bpp, mse = target_rate_loss(x + 0.01, x, likelihoods, context, lmbda, target)
    rate, context_rate = (16 + 2 * 4) / 64, (2 * 16 + 4) / 64  # 0.375 and 0.5625 bpp
    assert torch.allclose(bpp, torch.full((2,), rate))
    assert torch.allclose(mse, torch.full((2,), 1e-4))
    expected = 0.01 * 255**2 * 1e-4 + max(rate - target, 0) + context_rate
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_lic_train_trains_mentzer2018_to_its_target(tmp_path, monkeypatch):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(synthetic_photo(72, 96, seed=i)).save(photos / f"p{i}.png")
    config = TrainConfig(
        model="mentzer2018",
        data=str(photos),
        out=str(tmp_path / "run"),
        quality=2,
        steps=3,
        batch=2,
        crop=64,
        channels=(8, 4),
        threads=1,
        log_every=1,
        progress=False,
        max_short_side=None,
    )
    targets = []

    def spy(*args: object) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        targets.append(args[5])
        return target_rate_loss(*args)

    monkeypatch.setattr(loop, "target_rate_loss", spy)
    checkpoint = train(config)
    assert targets == [TARGET_BPP[2]] * 3  # the objective of sec. 3.4, at quality 2's target
    log = [json.loads(line) for line in Path(config.out, "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "step" in r] == [1, 2, 3]
    model = get_spec("mentzer2018").build(2, N=8, M=4)
    # quality 0's λ whatever the quality: the target, not λ, sets the rate
    _, lmbda, _ = sample_qualities(model, config, 2, torch.Generator())
    assert torch.equal(lmbda, torch.full((2,), LAMBDAS["mse"][0]))
    state = torch.load(checkpoint, weights_only=True)["model"]
    assert state["context_model.network.first.weight"].dim() == 5  # 3D kernels kept as they are
    export(checkpoint, tmp_path / "weights.safetensors")
    assert (tmp_path / "weights.safetensors").stat().st_size > 0
