"""`lic train`: the training loop, read top to bottom.

One step: draw a batch of crops, pick each image's quality (the fixed one, or for a
variable-rate model a random integer quality so that every gain vector trains, Cui et al.
2021 sec. 3.3), run the model under bf16 autocast (likelihoods stay float32 inside the entropy
models; with `quantization="mixed"` the synthesis sees y rounded, straight through: see
lic.entropy.base), take L = R + λ·D (each image's weighted by `balanced_weights` with
`balance`; a model that declares a `target_bpp`, mentzer2018, takes Mentzer et al.'s
`target_rate_loss` instead), clip gradients, step; then one step of the auxiliary loss on the
factorized densities' quantiles with its own optimizer.

Checkpoints hold model, both optimizers, step, and the states of both random generators, so a
resumed run continues exactly as an uninterrupted one. Under `torchrun` the model is wrapped in
DistributedDataParallel (gloo on the CPU, nccl on GPUs); each rank draws its own crops.
"""

from __future__ import annotations

import inspect
import itertools
import json
import math
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, fields
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import load_file
from torch.nn.parallel import DistributedDataParallel

from lic.errors import LicError
from lic.evaluate.metrics import MS_SSIM_MIN_SIDE, ms_ssim_db
from lic.models.base import HIGHEST_QUALITY, lowest_quality
from lic.models.registry import get_spec, load_weights, save_weights
from lic.train.config import TrainConfig
from lic.train.data import CropSampler, image_files, load_photo
from lic.train.loss import (
    LAMBDAS,
    balanced_weights,
    distortion,
    lambda_for,
    rd_loss,
    target_rate_loss,
)


def _build(config: TrainConfig) -> torch.nn.Module:
    spec = get_spec(config.model)
    quality = None if spec.variable_rate else (1 if config.quality is None else config.quality)
    sizes = {} if config.channels is None else dict(zip("NM", config.channels))
    if config.stage is not None:
        if "stage" not in inspect.signature(spec.builder).parameters:
            raise LicError(f"{config.model} is not trained in stages: leave out --stage")
        sizes["stage"] = config.stage
    model = spec.build(quality, **sizes)
    if config.init:  # every tensor that fits: the same model, or a relative to start from
        loaded = load_weights(model, config.init, partial=True)
        loaded += _extend_gains(model, load_file(config.init), config.metric)
        print(f"initialized {loaded} of {len(model.state_dict())} tensors from {config.init}")
    return model


def _extend_gains(model: torch.nn.Module, init: dict[str, torch.Tensor], metric: str) -> int:
    """Start gain units with more rate points than the init's from it (e.g. weights trained at
    qualities 1–8 continued with quality 0): the init's gain vectors go to their qualities, the
    top ones, and each quality below is extrapolated from the init's two lowest, linearly in
    log λ (log-gains and log λ move together along the table). Returns the units extended."""
    log_lambda = torch.tensor(LAMBDAS[metric]).log()
    extended = 0
    for name, unit in model.gains.items():
        old = init.get(f"gains.{name}.log_gain")
        if old is None or old.shape[1:] != unit.log_gain.shape[1:] or len(old) >= unit.points:
            continue
        low = lowest_quality(len(old))  # the init's
        slope = (old[1] - old[0]) / (log_lambda[low + 1] - log_lambda[low])
        below = old[0] + slope * (log_lambda[unit.first : low] - log_lambda[low])[:, None]
        with torch.no_grad():
            unit.log_gain.copy_(torch.cat([below, old]))
        extended += 1
    return extended


def sample_qualities(model: torch.nn.Module, config: TrainConfig, batch: int, g: torch.Generator):
    """(quality passed to the model, λ per image, loss weight per image or None). A model with
    a target rate takes quality 0's λ whatever its quality: the target sets its rate."""
    if model.variable_rate:
        lowest = model.lowest_quality
        q = torch.randint(lowest, HIGHEST_QUALITY + 1, (batch,), generator=g)
        weight = balanced_weights(q, lowest, config.metric) if config.balance else None
        return q.float(), lambda_for(q, config.metric), weight
    quality = 1 if config.quality is None else config.quality
    key = 0 if model.target_bpp is not None else quality
    lmbda = config.lmbda if config.lmbda is not None else LAMBDAS[config.metric][key]
    return None, torch.full((batch,), lmbda), None


def _refuse_unmatched(
    flag: str, prefixes: Iterable[str], names: Iterable[str], what: str, example: str
) -> None:
    """Refuse the prefixes given to `flag` that start none of `names` (a typo would otherwise
    leave the part it meant as it was, without a sign)."""
    names = list(names)
    unmatched = [p for p in prefixes if not any(n.startswith(p) for n in names)]
    if unmatched:
        raise LicError(
            f"{flag} {' '.join(unmatched)}: no {what} starts so "
            f"(prefixes of its state dict's names, e.g. {example})"
        )


def _param_groups(
    model: torch.nn.Module, params: list[torch.nn.Parameter], config: TrainConfig
) -> list[dict]:
    """The optimizer's groups: the tensors taken from `config.init` at `init_lr_scale` times
    the learning rate, the others (new parts, and those named by `config.relearn`) at 1 (one
    group when nothing differs)."""
    taken: set[int] = set()
    if config.relearn and not (config.init and config.init_lr_scale != 1):
        raise LicError(
            "--relearn names parts of --init to keep at --lr: give --init and an "
            "--init-lr-scale other than 1"
        )
    if config.init and config.init_lr_scale != 1:
        init = load_file(config.init)
        state = model.state_dict(keep_vars=True)
        _refuse_unmatched(
            "--relearn", config.relearn, state, f"tensor of {model.name}", "channel_context"
        )
        taken = {
            id(v)
            for k, v in state.items()
            if k in init and init[k].shape == v.shape and not k.startswith(tuple(config.relearn))
        }
    old = [p for p in params if id(p) in taken]
    new = [p for p in params if id(p) not in taken]
    groups = [{"params": new, "scale": 1.0}]
    if old:
        groups.append({"params": old, "scale": config.init_lr_scale})
    return groups


def _unfrozen(model: torch.nn.Module, config: TrainConfig) -> list[tuple[str, torch.nn.Parameter]]:
    """The parameters to train (name, tensor): all but those `config.freeze` names, which stop
    taking gradients (so none flows through a held transform that nothing trained precedes)."""
    if not config.freeze:
        return list(model.named_parameters())
    if not config.init:
        raise LicError("--freeze holds tensors as --init gives them: give --init")
    names = [n for n, _ in model.named_parameters()]
    _refuse_unmatched("--freeze", config.freeze, names, f"parameter of {model.name}", "analysis")
    trained = []
    for name, parameter in model.named_parameters():
        if name.startswith(tuple(config.freeze)):
            parameter.requires_grad_(False)
        else:
            trained.append((name, parameter))
    return trained


def _channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """`model` with its 4-D tensors in channels_last (oneDNN's faster layout on the CPU), what
    `model.to(memory_format=torch.channels_last)` does to a model without 5-D tensors (which it
    refuses: the kernels of 3D convolutions, mentzer2018's context model)."""
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        if tensor.dim() == 4:
            tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
    return model


def _learning_rate(config: TrainConfig, step: int) -> float:
    """Constant, then ×0.1 for the last (1 − decay_at) of the steps."""
    return config.lr * (0.1 if step >= config.decay_at * config.steps else 1.0)


@torch.no_grad()
def validate(model: torch.nn.Module, images: list[torch.Tensor], metric: str) -> dict:
    """Estimated bpp and PSNR (rounded latents) on held-out images, per quality point; with
    `metric` "ms-ssim" also MS-SSIM in dB (−10·log10(1 − MS-SSIM), `lic.evaluate.metrics`)
    of the images large enough for its five scales."""
    model.eval()
    points = range(model.lowest_quality, HIGHEST_QUALITY + 1) if model.variable_rate else [None]
    result = {}
    for q in points:
        rows = []
        for x in images:
            out = model(x, q)
            pixels = x.shape[2] * x.shape[3]
            bits = sum(float((-torch.log2(p)).sum()) for p in out.likelihoods.values())
            mse = float((out.x_hat.clamp(0, 1) - x).pow(2).mean())
            row = {"bpp": bits / pixels, "psnr": 10 * math.log10(1 / max(mse, 1e-10))}
            if metric == "ms-ssim" and min(x.shape[2:]) >= MS_SSIM_MIN_SIDE:
                row["ms-ssim-db"] = ms_ssim_db(1 - float(distortion(out.x_hat, x, metric)))
            rows.append(row)
        result["fixed" if q is None else str(q)] = {
            k: sum(r[k] for r in rows) / len(rows) for k in rows[0] if all(k in r for r in rows)
        }
    model.train()
    return result


def _val_images(files: list[Path], stride: int) -> list[torch.Tensor]:
    images = []
    for f in files:
        a = torch.from_numpy(load_photo(f, 512)).permute(2, 0, 1).float().div(255)
        h, w = a.shape[1] // stride * stride, a.shape[2] // stride * stride
        images.append(a[None, :, :h, :w])
    return images


def train(config: TrainConfig) -> Path:
    """Run (or resume) training; returns the checkpoint path."""
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank = dist.get_rank() if distributed else 0
    torch.set_num_threads(config.threads or os.cpu_count() or 1)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / "checkpoint.pt"

    torch.manual_seed(config.seed + rank)
    model = _channels_last(_build(config).to(device))
    model.entropy_y.straight_through = config.quantization == "mixed"
    trained = _unfrozen(model, config)
    aux_params = [p for n, p in trained if n.endswith("quantiles")]
    main_params = [p for n, p in trained if not n.endswith("quantiles")]
    optimizer = torch.optim.Adam(_param_groups(model, main_params, config), lr=config.lr)
    # Models without factorized densities (hu2020) have no auxiliary loss.
    aux_optimizer = torch.optim.Adam(aux_params, lr=config.aux_lr) if aux_params else None

    files = image_files(config.data)
    train_files = files[: len(files) - config.holdout] if config.holdout else files
    sampler = CropSampler.from_folder(
        train_files, config.crop, config.seed + 1000 * rank, config.max_short_side
    )
    val_images = (
        _val_images(files[len(files) - config.holdout :], model.stride) if config.holdout else []
    )
    quality_generator = torch.Generator().manual_seed(config.seed + 7 + rank)

    step = 0
    if checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        for group in optimizer.param_groups:  # checkpoints from before the learning-rate scales
            group.setdefault("scale", 1.0)
        if aux_optimizer is not None:
            aux_optimizer.load_state_dict(state["aux_optimizer"])
        step = state["step"]
        torch.set_rng_state(state["rng"])
        sampler.generator.set_state(state["sampler_rng"])
        quality_generator.set_state(state["quality_rng"])

    net = model
    if distributed:
        DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(
            model, [n for n, _ in model.named_parameters() if n.endswith("quantiles")]
        )
        net = DistributedDataParallel(model)

    def save() -> None:
        if rank != 0:
            return
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "aux_optimizer": None if aux_optimizer is None else aux_optimizer.state_dict(),
            "step": step,
            "rng": torch.get_rng_state(),
            "sampler_rng": sampler.generator.get_state(),
            "quality_rng": quality_generator.get_state(),
            "config": json.dumps(asdict(config)),
        }
        tmp = checkpoint_path.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(checkpoint_path)

    log = open(out / "log.jsonl", "a") if rank == 0 else None
    if log is not None:  # marks where this process starts, for the training record
        start = {
            "start": step,
            "time": time.time(),
            "lr": config.lr,
            "balance": config.balance,
            "quantization": config.quantization,
            "threads": torch.get_num_threads(),
        }
        log.write(json.dumps(start) + "\n")
    if rank == 0:
        print(
            f"training {config.model} on {len(sampler.photos)} photos "
            f"({sampler.skipped} smaller than {config.crop}² skipped), from step {step}",
            flush=True,
        )
    progress = None
    if config.progress and rank == 0:
        from tqdm import tqdm

        progress = tqdm(total=config.steps, initial=step, dynamic_ncols=True, mininterval=5)
    model.train()
    target = model.target_bpp
    started, started_step = time.perf_counter(), step
    while step < config.steps:
        for group in optimizer.param_groups:
            group["lr"] = group["scale"] * _learning_rate(config, step)
        x = sampler.batch(config.batch).to(device)
        quality, lmbda, weight = sample_qualities(model, config, config.batch, quality_generator)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
            output = net(x, quality)
        if target is None:
            loss, bpp, mse = rd_loss(
                output.x_hat,
                x,
                output.likelihoods,
                lmbda.to(device),
                config.metric,
                None if weight is None else weight.to(device),
            )
        else:
            loss, bpp, mse = target_rate_loss(
                output.x_hat,
                x,
                output.likelihoods,
                output.context_likelihoods,
                lmbda.to(device),
                target,
                config.metric,
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(main_params, config.clip)
        optimizer.step()

        aux = model.aux_loss()
        if aux_optimizer is not None:
            aux_optimizer.zero_grad(set_to_none=True)
            aux.backward()
            if distributed:
                for p in aux_params:
                    dist.all_reduce(p.grad)
                    p.grad /= dist.get_world_size()
            aux_optimizer.step()
        step += 1

        if rank == 0 and (step % config.log_every == 0 or step == config.steps):
            rate = (step - started_step) / (time.perf_counter() - started)
            psnr = float((10 * torch.log10(1 / mse.clamp(min=1e-10))).mean())
            record = {
                "step": step,
                "loss": float(loss.detach()),
                "bpp": float(bpp.mean()),
                "psnr": psnr,
                "aux": float(aux.detach()),
                "steps_per_s": rate,
                "time": time.time(),
                "cpu_s": time.process_time(),
            }
            log.write(json.dumps(record) + "\n")
            log.flush()
            if progress is not None:
                progress.set_postfix(
                    loss=f"{record['loss']:.3f}",
                    bpp=f"{record['bpp']:.3f}",
                    psnr=f"{psnr:.2f}",
                    steps_s=f"{rate:.2f}",
                )
        if progress is not None:
            progress.update(1)
        if val_images and rank == 0 and step % config.val_every == 0:
            log.write(
                json.dumps({"step": step, "val": validate(model, val_images, config.metric)}) + "\n"
            )
            log.flush()
        if step % config.checkpoint_every == 0 or step == config.steps:
            save()
        if config.minutes is not None and _time_is_up(config, started, device, distributed):
            save()
            break
    if progress is not None:
        progress.close()
    if distributed:  # leave together: a rank whose peer has gone aborts in gloo
        dist.barrier()
        dist.destroy_process_group()
    return checkpoint_path


def _time_is_up(
    config: TrainConfig, started: float, device: torch.device, distributed: bool
) -> bool:
    """Whether `config.minutes` have passed since the loop started (rank 0's clock decides
    for every rank, so that all stop after the same step)."""
    up = torch.tensor([time.perf_counter() - started >= 60 * config.minutes], device=device)
    if distributed:
        dist.broadcast(up, 0)
    return bool(up.item())


def export(checkpoint: str | Path, out: str | Path) -> None:
    """Write the model weights of a training checkpoint as safetensors (nothing else), after
    fitting the factorized densities' quantiles to convergence (`fit_quantiles`)."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    known = {f.name for f in fields(TrainConfig)}
    saved = {k: v for k, v in json.loads(state["config"]).items() if k in known}
    if saved.get("channels"):
        saved["channels"] = tuple(saved["channels"])
    model = _build(TrainConfig(**{**saved, "init": None}))
    model.load_state_dict(state["model"])
    model.fit_quantiles()  # the coder tables' bounds at the tails, whatever training reached
    save_weights(model, out)
