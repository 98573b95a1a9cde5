"""`lic train`, `lic export` and `lic fold`."""

from __future__ import annotations

import argparse
from dataclasses import fields

from lic.models.registry import fold, save_weights
from lic.train import TrainConfig, export, train


def run_train(args: argparse.Namespace) -> None:
    options = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    options.update(
        bf16=not args.fp32,
        channels=tuple(args.channels) if args.channels else None,
        progress=not args.no_progress,
    )
    path = train(TrainConfig(**options))
    print(f"checkpoint: {path}")


def run_export(args: argparse.Namespace) -> None:
    export(args.checkpoint, args.output)
    print(f"weights: {args.output}")


def run_fold(args: argparse.Namespace) -> None:
    save_weights(fold(args.model, args.quality, args.weights), args.output)
    print(f"weights: {args.output} ({args.model.removesuffix('-vr')} at quality {args.quality})")


def add_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("train", help="train a registered model (resumes from OUT)")
    p.add_argument("--model", required=True)
    p.add_argument("--quality", type=int, help="fixed-rate quality 1–8 (sets λ)")
    p.add_argument("--lambda", dest="lmbda", type=float, help="λ instead of the quality's")
    p.add_argument("--metric", choices=["mse", "ms-ssim"], default="mse")
    p.add_argument("--data", required=True, help="folder of training photos")
    p.add_argument("--out", required=True, help="run folder: checkpoint.pt and log.jsonl")
    p.add_argument("--steps", type=int, default=100_000, help="total steps (resume can raise it)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--decay-at", type=float, default=0.9, help="fraction of steps before lr×0.1")
    p.add_argument("--fp32", action="store_true", help="no bf16 autocast")
    p.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", help="start from these safetensors weights")
    p.add_argument("--holdout", type=int, default=0, help="last K photos validate, not train")
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--val-every", type=int, default=1000)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--channels", type=int, nargs=2, metavar=("N", "M"), help="override N and M")
    p.add_argument(
        "--balance",
        action="store_true",
        help="variable-rate: weight each rate point's loss by λ^(-1/2) (see lic.train.loss)",
    )
    p.add_argument(
        "--quantization",
        choices=["noise", "mixed"],
        default="noise",
        help="what the synthesis sees in training: y + U(−½, ½), or (mixed) y rounded as coded "
        "with a straight-through gradient; the rate always uses the noise (lic.entropy.base)",
    )
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=run_train)

    p = commands.add_parser("export", help="write a checkpoint's weights as safetensors")
    p.add_argument("checkpoint")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(run=run_export)

    p = commands.add_parser(
        "fold", help="fixed-rate weights from a variable-rate model at one quality"
    )
    p.add_argument("--model", required=True, help="a variable-rate model (NAME-vr)")
    p.add_argument("--quality", type=int, required=True)
    p.add_argument("--weights", help="variable-rate weights (default: the shipped ones)")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(run=run_fold)
