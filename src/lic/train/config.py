"""What a training run depends on: one dataclass, the single source of `lic train`'s options,
their defaults and their help (without importing torch, so `lic --help` starts fast)."""

from __future__ import annotations

from dataclasses import dataclass, field


def option(default: object, help: str) -> object:  # noqa: A002 (argparse's word)
    """A field with its `lic train --help` text."""
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Everything a run depends on; stored in its checkpoint and its log."""

    model: str = field(metadata={"help": "a registered model (`lic models`)"})
    data: str = field(metadata={"help": "folder of training photos"})
    out: str = field(metadata={"help": "run folder: checkpoint.pt and log.jsonl (resumes)"})
    quality: int | None = option(None, "fixed-rate quality 1–8 (sets λ)")
    lmbda: float | None = option(None, "λ instead of the quality's")
    metric: str = option("mse", "distortion: mse, or ms-ssim (λ·(1 − MS-SSIM))")
    steps: int = option(100_000, "total steps (a resumed run may raise it)")
    batch: int = option(8, "crops per step (the measured recipe: 2)")
    crop: int = option(128, "crop side in pixels (the measured recipe: 256)")
    lr: float = option(1e-4, "learning rate of the model (Adam)")
    aux_lr: float = option(1e-3, "learning rate of the factorized densities' quantiles")
    decay_at: float = option(0.9, "fraction of the steps after which the learning rate ×0.1")
    clip: float = option(1.0, "gradient norm clip")
    bf16: bool = option(True, "bf16 autocast for the transforms (likelihoods stay float32)")
    threads: int | None = option(None, "torch threads (default: all cores)")
    minutes: float | None = option(
        None, "stop (with a checkpoint) after this many minutes of this process's wall clock"
    )
    seed: int = option(0, "seed of crops, qualities and initialization")
    init: str | None = option(None, "start from these safetensors weights (what fits)")
    init_lr_scale: float = option(
        1.0,
        "learning rate of the tensors taken from --init, as a multiple of --lr (below 1: new "
        "parts, e.g. another context, learn faster than the trained transforms around them)",
    )
    relearn: tuple[str, ...] = option(
        (),
        "tensors whose names start with these prefixes learn at --lr even when taken from "
        "--init (e.g. `channel_context inner`: ELIC's context continued at full rate over its "
        "slower transforms)",
    )
    freeze: tuple[str, ...] = option(
        (),
        "tensors whose names start with these prefixes stay as --init gives them (e.g. "
        "`analysis synthesis gains.y`: hu2020's hyper layers learnt alone on held transforms, "
        "with no gradient through them: 6.0 steps/s against 2.4 training all of stage 3, one "
        "thread, batch 2)",
    )
    holdout: int = option(0, "the last K photos validate instead of training")
    max_short_side: int | None = option(768, "photos are downscaled to this short side")
    checkpoint_every: int = option(500, "steps between checkpoints")
    val_every: int = option(1000, "steps between held-out validations")
    log_every: int = option(50, "steps between log lines")
    channels: tuple[int, int] | None = option(None, "override the model's N and M")
    stage: int | None = option(
        None,
        "models trained in stages (hu2020): 1 the main transforms alone, 2 with the hyper "
        "layers, 3 with the aggregation network (the coded model); start each from the last "
        "stage's weights with --init",
    )
    balance: bool = option(
        False, "variable-rate: weight each rate point's loss by λ^(−½) (lic.train.loss)"
    )
    quantization: str = option(
        "noise",
        "what the synthesis sees: y + U(−½, ½), or (mixed) y rounded as coded with a "
        "straight-through gradient; the rate always uses the noise (lic.entropy.base)",
    )
    progress: bool = option(True, "show a progress bar")
