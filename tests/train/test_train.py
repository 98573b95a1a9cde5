"""Training: the loss, exact resumption, the crop sampler, DDP under torchrun, export."""

import dataclasses
import json
import math
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from torch.nn.modules.module import register_module_forward_hook

from lic.defaults import DEFAULT_MODEL
from lic.entropy import GaussianConditional
from lic.errors import LicError
from lic.layers import MaskedConv2d, checkerboard
from lic.models.base import CompressionModel
from lic.models.registry import get_spec, save_weights
from lic.train import TrainConfig, export, train
from lic.train.data import CropSampler
from lic.train.loop import sample_qualities, validate
from lic.train.loss import LAMBDAS, balanced_weights, lambda_for, rd_loss
from tests.conftest import synthetic_photo


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for i in range(4):
        Image.fromarray(synthetic_photo(80 + 8 * i, 96, seed=i)).save(folder / f"p{i}.png")
    Image.fromarray(synthetic_photo(20, 20)).save(folder / "small.png")  # below the crop
    return folder


def _config(photos: Path, out: Path, steps: int, **kw) -> TrainConfig:
    base = dict(
        model="bmshj2018-hyperprior-vr",
        data=str(photos),
        out=str(out),
        steps=steps,
        batch=2,
        crop=64,
        channels=(8, 12),
        threads=1,
        checkpoint_every=100,
        log_every=1,
        progress=False,
        max_short_side=None,
    )
    return TrainConfig(**{**base, **kw})


def test_rd_loss_is_lambda_distortion_plus_rate():
    x = torch.rand(2, 3, 8, 8)
    x_hat = x + 0.01
    likelihoods = {"y": torch.full((2, 4, 2, 2), 0.5), "z": torch.full((2, 2, 1, 1), 0.25)}
    lmbda = torch.tensor([0.01, 0.1])
    loss, bpp, mse = rd_loss(x_hat, x, likelihoods, lmbda)
    expected_bpp = (16 * 1 + 2 * 2) / 64
    assert torch.allclose(bpp, torch.full((2,), expected_bpp))
    assert torch.allclose(loss, (lmbda * 255**2 * 1e-4 + expected_bpp).mean(), rtol=1e-4)
    assert LAMBDAS["mse"][1] == 0.0018 and LAMBDAS["mse"][8] == 0.18
    assert LAMBDAS["mse"][0] == 0.0018 / 4 and LAMBDAS["ms-ssim"][0] == 2.40 / 4
    assert float(lambda_for(torch.tensor([0, 1, 8]), "mse")[2]) == pytest.approx(0.18)


@pytest.mark.parametrize("lowest", [0, 1])
def test_balanced_weights_even_out_the_rate_points(lowest):
    w = balanced_weights(torch.arange(lowest, 9), lowest, "mse")
    assert float(w.mean()) == pytest.approx(1.0)
    assert float(w[0] / w[-1]) == pytest.approx((0.18 / LAMBDAS["mse"][lowest]) ** 0.5, rel=1e-5)
    assert torch.all(w[:-1] > w[1:])
    assert torch.equal(balanced_weights(torch.tensor([8, lowest]), lowest, "mse"), w[[-1, 0]])
    x = torch.rand(2, 3, 8, 8)
    likelihoods = {"y": torch.full((2, 4, 2, 2), 0.5)}
    lmbda, weight = torch.tensor([LAMBDAS["mse"][lowest], 0.18]), w[[0, -1]]
    plain, bpp, mse = rd_loss(x + 0.01, x, likelihoods, lmbda)
    weighted, _, _ = rd_loss(x + 0.01, x, likelihoods, lmbda, weight=weight)
    assert float(weighted) == pytest.approx(float((weight * (lmbda * 255**2 * mse + bpp)).mean()))
    assert float(weighted) != pytest.approx(float(plain))


@pytest.mark.parametrize("points", [8, 9])
def test_variable_rate_training_draws_every_quality_of_the_model(points, photos, tmp_path):
    model = get_spec("bmshj2018-hyperprior-vr").builder(N=8, M=12, rate_points=points)
    config = _config(photos, tmp_path, 1, balance=True)
    q, lmbda, weight = sample_qualities(model, config, 4000, torch.Generator().manual_seed(0))
    lowest = 9 - points
    assert set(q.long().tolist()) == set(range(lowest, 9))
    assert torch.equal(lmbda, lambda_for(q, "mse"))
    assert torch.equal(weight, balanced_weights(q, lowest, "mse"))


@contextmanager
def _forward_calls(kind: type | tuple[type, ...]):
    """Record (module, inputs, output) of every forward of a `kind` module, e.g. inside train()."""
    calls = []

    def hook(module, inputs, output):
        if isinstance(module, kind):
            calls.append((module, inputs, output))

    handle = register_module_forward_hook(hook)
    try:
        yield calls
    finally:
        handle.remove()


def _logged_losses(out: Path) -> list[float]:
    lines = (out / "log.jsonl").read_text().splitlines()
    return [r["loss"] for r in map(json.loads, lines) if "loss" in r]


def _expected_loss(x, quality, output, weighted: bool, lowest: int) -> float:
    """mean over the batch of w·(λ·255²·MSE + bpp), in float64, from the λ table alone."""
    table = torch.tensor(LAMBDAS["mse"], dtype=torch.float64)
    lmbda = table[quality.long()]
    # Balanced weights: ∝ λ^(−½), scaled so that their mean over the qualities lowest–8 is 1.
    weight = lmbda.rsqrt() / table[lowest:].rsqrt().mean() if weighted else torch.ones_like(lmbda)
    mse = (output.x_hat.double() - x.double()).pow(2).flatten(1).mean(1)
    bits = sum((-torch.log2(p.double())).flatten(1).sum(1) for p in output.likelihoods.values())
    bpp = bits / (x.shape[2] * x.shape[3])
    return float((weight * (lmbda * 255**2 * mse + bpp)).mean().detach())


def test_balanced_training_weights_each_image_by_its_lambda(photos, tmp_path):
    """The loss each step minimizes is Σ w_q·(λ_q·D + R) / B with w ∝ λ^(−½), mean 1 over the
    qualities; without `balance` every w is 1. Recomputed from what the model returned."""
    for balance in (False, True):
        out = tmp_path / str(balance)
        with _forward_calls(CompressionModel) as calls:
            train(_config(photos, out, 2, batch=4, balance=balance))
        losses = _logged_losses(out)
        assert len(calls) == len(losses) == 2
        for (model, (x, quality), output), logged in zip(calls, losses):
            lowest = model.lowest_quality
            expected = _expected_loss(x, quality, output, balance, lowest)
            assert logged == pytest.approx(expected, rel=1e-5)
            # The data tell the two apart: mixed qualities, weights far from 1.
            other = _expected_loss(x, quality, output, not balance, lowest)
            assert abs(other - expected) > 1e-3 * expected
            assert len(set(quality.tolist())) > 1


def test_resume_continues_exactly(photos, tmp_path):
    straight = train(_config(photos, tmp_path / "a", 4))
    train(_config(photos, tmp_path / "b", 2))
    resumed = train(_config(photos, tmp_path / "b", 4))
    a = torch.load(straight, weights_only=True)
    b = torch.load(resumed, weights_only=True)
    assert a["step"] == b["step"] == 4
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key


def test_training_lowers_the_loss(photos, tmp_path):
    train(_config(photos, tmp_path / "run", 60, lr=1e-3, bf16=True, quality=None))
    lines = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    log = [r for r in map(json.loads, lines) if "loss" in r]
    assert json.loads(lines[0])["start"] == 0  # each process marks where it starts
    first = sum(r["loss"] for r in log[:10]) / 10
    last = sum(r["loss"] for r in log[-10:]) / 10
    assert last < 0.7 * first, (first, last)


def test_crop_sampler_skips_small_images_and_is_seeded(photos):
    files = sorted(photos.iterdir())
    a = CropSampler.from_folder(files, 64, seed=3, max_short_side=None)
    b = CropSampler.from_folder(files, 64, seed=3, max_short_side=None)
    assert a.skipped == 1
    batch = a.batch(3)
    assert batch.shape == (3, 3, 64, 64) and 0 <= batch.min() and batch.max() <= 1
    assert torch.equal(batch, b.batch(3))


def test_export_writes_safetensors_of_the_model(photos, tmp_path):
    checkpoint = train(_config(photos, tmp_path / "run", 1))
    export(checkpoint, tmp_path / "w.safetensors")
    state = load_file(tmp_path / "w.safetensors")
    saved = torch.load(checkpoint, weights_only=True)["model"]
    assert set(state) == set(saved)
    # Everything is the checkpoint's but the quantiles, which export fits to the tails.
    assert all(torch.equal(state[k], saved[k]) for k in state if not k.endswith("quantiles"))
    spec = get_spec("bmshj2018-hyperprior-vr")
    before, after = spec.builder(N=8, M=12, rate_points=8), spec.builder(N=8, M=12, rate_points=8)
    before.load_state_dict(saved)
    after.load_state_dict(state)
    assert after.aux_loss() < 0.01 * before.aux_loss()


def test_ddp_with_two_processes_under_torchrun(photos, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--standalone",
        "-m",
        "lic",
        "train",
        "--model",
        "bmshj2018-hyperprior-vr",
        "--data",
        str(photos),
        "--out",
        str(out),
        "--steps",
        "3",
        "--batch",
        "2",
        "--crop",
        "64",
        "--channels",
        "8",
        "12",
        "--threads",
        "1",
        "--no-progress",
    ]
    result = subprocess.run(command, capture_output=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["step"] == 3


def test_ms_ssim_loss_is_lambda_times_one_minus_ms_ssim(photos):
    from pytorch_msssim import ms_ssim

    x = torch.from_numpy(synthetic_photo(192, 192)).permute(2, 0, 1)[None].float() / 255
    x_hat = (x + 0.05 * torch.randn_like(x)).clamp(0, 1)
    likelihoods = {"y": torch.full((1, 4, 2, 2), 0.5)}
    loss, bpp, _ = rd_loss(x_hat, x, likelihoods, torch.tensor([8.73]), metric="ms-ssim")
    expected = 8.73 * (1 - ms_ssim(x_hat, x, data_range=1.0)) + 16 / 192**2
    assert torch.allclose(loss, expected, rtol=1e-5)


def test_init_starts_from_exported_weights(photos, tmp_path):
    export(train(_config(photos, tmp_path / "first", 3)), tmp_path / "w.safetensors")
    checkpoint = train(
        _config(photos, tmp_path / "second", 1, init=str(tmp_path / "w.safetensors"), lr=0.0)
    )
    start = load_file(tmp_path / "w.safetensors")
    state = torch.load(checkpoint, weights_only=True)["model"]
    assert all(torch.equal(state[k], start[k]) for k in start if not k.endswith("quantiles"))


def _continued(photos: Path, tmp_path: Path, first: str, second: str) -> tuple[dict, dict]:
    """Train `first` 2 steps and export it; start `second` from it (lr 0, 1 step). Returns
    the second run's model state and the exported first weights."""
    export(train(_config(photos, tmp_path / "a", 2, model=first)), tmp_path / "a.safetensors")
    config = _config(
        photos, tmp_path / "b", 1, model=second, lr=0.0, init=str(tmp_path / "a.safetensors")
    )
    state = torch.load(train(config), weights_only=True)["model"]
    return state, load_file(tmp_path / "a.safetensors")


def test_init_from_a_relative_loads_what_fits(photos, tmp_path):
    """mbt2018-mean starts from the scale hyperprior's transforms (issue: context models)."""
    state, start = _continued(photos, tmp_path, "bmshj2018-hyperprior-vr", "mbt2018-mean-vr")
    assert torch.equal(state["analysis.0.weight"], start["analysis.0.weight"])
    assert torch.equal(state["synthesis.6.weight"], start["synthesis.6.weight"])
    assert state["hyper_synthesis.4.weight"].shape != start["hyper_synthesis.4.weight"].shape


def test_init_with_fewer_rate_points_extrapolates_the_lowest(photos, tmp_path):
    """Weights trained at qualities 1–8 start a model with quality 0 as well: the eight gain
    vectors keep their qualities, quality 0's continues the two lowest in log λ."""
    state, start = _continued(photos, tmp_path, "mbt2018-mean-vr", "minnen2020-vr")
    log_lambda = torch.tensor(LAMBDAS["mse"]).log()
    for name in ("y", "y_inverse", "z", "z_inverse"):
        old, new = start[f"gains.{name}.log_gain"], state[f"gains.{name}.log_gain"]
        assert old.shape[0] == 8 and new.shape[0] == 9
        assert torch.equal(new[1:], old)
        per_log_lambda = (old[1] - old[0]) / (log_lambda[2] - log_lambda[1])
        expected = old[0] - per_log_lambda * (log_lambda[1] - log_lambda[0])
        assert torch.allclose(new[0], expected)
        assert not torch.allclose(new[0], new[1])


@pytest.mark.parametrize("points", [0, 8, 9])
def test_validation_reports_every_quality_of_the_model(points):
    model = get_spec("bmshj2018-hyperprior-vr").builder(N=8, M=12, rate_points=points)
    result = validate(model, [torch.rand(1, 3, 64, 64)], "mse")
    expected = ["fixed"] if points == 0 else [str(q) for q in range(9 - points, 9)]
    assert list(result) == expected
    assert all(r["bpp"] > 0 and math.isfinite(r["psnr"]) for r in result.values())


def test_validation_of_an_ms_ssim_run_reports_ms_ssim():
    """With metric "ms-ssim" each point also has MS-SSIM in dB, as `lic eval` computes it."""
    from lic.evaluate.metrics import ms_ssim, ms_ssim_db

    model = get_spec("bmshj2018-hyperprior-vr").builder(N=8, M=12, rate_points=2)
    x = torch.rand(1, 3, 192, 176)
    result = validate(model, [x], "ms-ssim")
    assert "ms-ssim-db" not in validate(model, [x], "mse")["8"]
    model.eval()
    with torch.no_grad():
        x_hat = model(x, 8.0).x_hat.clamp(0, 1)
    on_255 = [(a[0].permute(1, 2, 0) * 255).double().numpy() for a in (x, x_hat)]
    expected = ms_ssim_db(ms_ssim(*on_255))
    assert result["8"]["ms-ssim-db"] == pytest.approx(expected, abs=1e-3)


def _off_integer(v: torch.Tensor) -> torch.Tensor:
    return (v - v.round()).abs()


@pytest.mark.parametrize("quantization", ["noise", "mixed"])
def test_mixed_quantization_feeds_the_synthesis_rounded_latents(photos, tmp_path, quantization):
    """Under "mixed" the synthesis and the checkerboard context see round(y − μ) + μ with the
    identity's gradient, while the rate still comes from y + noise; under "noise" they see
    y + noise (Minnen & Singh 2020). Checked on the one step of a real training run."""
    config = _config(photos, tmp_path, 1, model="he2021-checkerboard-vr", quantization=quantization)
    kinds = (CompressionModel, GaussianConditional, MaskedConv2d, torch.nn.Sequential)
    with _forward_calls(kinds) as calls:
        train(config)
    start = json.loads((tmp_path / "log.jsonl").read_text().splitlines()[0])
    assert start["quantization"] == quantization
    [(model, (_, quality), _)] = [c for c in calls if isinstance(c[0], CompressionModel)]
    [(gaussian, (y_in, scales, means), (y_hat, likelihood))] = [
        c for c in calls if isinstance(c[0], GaussianConditional)
    ]
    [(_, (context_input,), _)] = [c for c in calls if isinstance(c[0], MaskedConv2d)]
    [(_, (synthesis_input,), _)] = [c for c in calls if c[0] is model.synthesis]
    y, means, context_input = y_in.float(), means.float(), context_input.float()
    anchor = checkerboard(*y.shape[2:], anchor=True).expand_as(y)
    assert torch.all(context_input[~anchor] == 0)  # the context sees the anchors alone
    if quantization == "noise":  # y + U(−½, ½): hardly ever an integer away from μ
        assert float((_off_integer(y_hat - means) > 0.01).float().mean()) > 0.9
        assert float((_off_integer(context_input - means)[anchor] > 0.01).float().mean()) > 0.9
        assert torch.all((context_input - y)[anchor].abs() <= 0.5)
        return
    # The values as coded, round(y − μ) + μ around each position's own μ (the anchors' μ is
    # the hyperprior's alone either way: their context is zero), to the synthesis (after the
    # inverse gain) and to the context model.
    coded = torch.round(y - means) + means
    assert torch.allclose(y_hat, coded, atol=1e-3)
    expected_input = model.inverse_gain("y", coded, quality)
    assert torch.allclose(synthesis_input.float(), expected_input, rtol=1e-3, atol=1e-3)
    assert torch.allclose(context_input[anchor], coded[anchor], atol=1e-3)
    # Straight through: dŷ/dy = 1 everywhere.
    (grad,) = torch.autograd.grad(y_hat.sum(), y_in, retain_graph=True)
    assert torch.all(grad == 1)
    # The rate is that of the noisy latent, not of the rounded one.
    with torch.no_grad():
        rounded = gaussian.likelihood(y_hat, scales, means)
    assert not torch.allclose(likelihood.detach(), rounded)


def test_the_gpu_script_trains_exports_and_resumes_on_the_cpu(photos, tmp_path):
    """scripts/train-gpu.sh, a few steps of small crops on the CPU: it continues the shipped
    default, writes checkpoint and weights, and a second run resumes from the first."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "train-gpu.sh"
    out = tmp_path / "gpu"
    env = dict(os.environ, DATA=str(photos), BATCH="1", CROP="64", HOLDOUT="0", STEPS="2")
    env["PYTHON"] = sys.executable
    first = subprocess.run([script, str(out)], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "initialized" in first.stdout and "from step 0" in first.stdout
    weights = load_file(out / f"{DEFAULT_MODEL}.safetensors")
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 2
    env["STEPS"] = "3"
    second = subprocess.run([script, str(out)], env=env, capture_output=True, text=True)
    assert second.returncode == 0 and "from step 2" in second.stdout, second.stderr
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 3
    assert not torch.equal(
        load_file(out / f"{DEFAULT_MODEL}.safetensors")["synthesis.0.weight"],
        weights["synthesis.0.weight"],
    )


def test_minutes_stop_a_run_with_a_checkpoint(photos, tmp_path):
    config = _config(photos, tmp_path / "run", 1000, minutes=0.0)
    train(config)
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["step"] == 1


def _mean_scale_weights(folder: Path) -> Path:
    """A small `mbt2018-mean-vr`'s initial weights written to `folder`, to start runs from."""
    init = folder / "donor.safetensors"
    save_weights(get_spec("mbt2018-mean-vr").build(None, N=8, M=12), init)
    return init


def test_init_lr_scale_trains_only_the_new_parts_at_zero(photos, tmp_path):
    """--init-lr-scale 0: the tensors taken from --init stay as they were, the rest train."""
    init = _mean_scale_weights(tmp_path)
    run = tmp_path / "run"
    train(_config(photos, run, 3, init=str(init), init_lr_scale=0.0, quantization="noise"))
    export(run / "checkpoint.pt", tmp_path / "out.safetensors")
    before, after = load_file(init), load_file(tmp_path / "out.safetensors")
    assert torch.equal(after["analysis.0.weight"], before["analysis.0.weight"])
    assert torch.equal(after["synthesis.6.weight"], before["synthesis.6.weight"])
    # h_s of the scale hyperprior (M outputs) is not the mean-scale one's (2M): new, trained.
    torch.manual_seed(0)  # as `train` does before building the model
    initial = get_spec("bmshj2018-hyperprior-vr").build(None, N=8, M=12).state_dict()
    assert before["hyper_synthesis.4.weight"].shape != initial["hyper_synthesis.4.weight"].shape
    assert not torch.equal(after["hyper_synthesis.4.weight"], initial["hyper_synthesis.4.weight"])


def test_relearn_trains_the_named_parts_taken_from_init(photos, tmp_path):
    """--relearn PREFIX: tensors taken from --init under that prefix learn at --lr, the rest of
    what --init gave stays at --init-lr-scale (0 here)."""
    init = _mean_scale_weights(tmp_path)
    run = tmp_path / "run"
    train(
        _config(
            photos,
            run,
            3,
            model="mbt2018-mean-vr",
            init=str(init),
            init_lr_scale=0.0,
            relearn=("synthesis.",),
            quantization="noise",
        )
    )
    export(run / "checkpoint.pt", tmp_path / "out.safetensors")
    before, after = load_file(init), load_file(tmp_path / "out.safetensors")
    assert torch.equal(after["analysis.0.weight"], before["analysis.0.weight"])
    assert torch.equal(after["hyper_synthesis.4.weight"], before["hyper_synthesis.4.weight"])
    assert not torch.equal(after["synthesis.6.weight"], before["synthesis.6.weight"])


def test_relearn_refuses_a_prefix_that_names_nothing(photos, tmp_path):
    """A typo in --relearn would train the part at the slow rate without a sign: refused."""
    init = _mean_scale_weights(tmp_path)
    config = _config(
        photos,
        tmp_path / "run",
        3,
        model="mbt2018-mean-vr",
        init=str(init),
        init_lr_scale=0.2,
        relearn=("synthesis.", "synthesys."),
        quantization="noise",
    )
    with pytest.raises(LicError, match=r"--relearn synthesys\.: no tensor"):
        train(config)
    for without in ({"init": None}, {"init_lr_scale": 1.0}):  # nothing slower to keep it from
        with pytest.raises(LicError, match="--relearn names parts of --init"):
            train(dataclasses.replace(config, relearn=("synthesis.",), **without))


def test_freeze_refuses_a_prefix_that_names_nothing_and_a_run_without_init(photos, tmp_path):
    """A typo in --freeze would train the part it meant to hold: refused, as is --freeze
    without --init (it would hold random weights)."""
    init = _mean_scale_weights(tmp_path)
    config = _config(
        photos,
        tmp_path / "run",
        3,
        model="mbt2018-mean-vr",
        init=str(init),
        freeze=("analysis", "analisys"),
        quantization="noise",
    )
    with pytest.raises(LicError, match="--freeze analisys: no parameter"):
        train(config)
    with pytest.raises(LicError, match="--freeze holds tensors as --init gives them"):
        train(dataclasses.replace(config, freeze=("analysis",), init=None))
