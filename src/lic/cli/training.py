"""`lic train`, `lic export` and `lic fold`.

`lic train`'s options are `lic.train.config.TrainConfig`'s fields: their defaults and help
come from there, stated once.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import MISSING, fields

from lic.train.config import TrainConfig

#: Fields whose flag reads otherwise than the field: the flag, and its help when it turns the
#: field off (None: the field's own help).
FLAGS = {
    "lmbda": ("--lambda", None),
    "bf16": ("--fp32", "train in float32, without bf16 autocast"),
    "progress": ("--no-progress", "no progress bar"),
}
CHOICES = {"metric": ["mse", "ms-ssim"], "quantization": ["noise", "mixed"], "stage": [1, 2, 3]}
INTERNAL = {"max_short_side", "aux_lr", "clip"}  # settable from Python, not worth a flag


def run_train(args: argparse.Namespace) -> None:
    from lic.train import train

    options = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    if options.get("channels") is not None:
        options["channels"] = tuple(options["channels"])
    print(f"checkpoint: {train(TrainConfig(**options))}")


def run_export(args: argparse.Namespace) -> None:
    from lic.train import export

    export(args.checkpoint, args.output)
    print(f"weights: {args.output}")


def run_fold(args: argparse.Namespace) -> None:
    from lic.models.registry import fold, save_weights

    save_weights(fold(args.model, args.quality, args.weights), args.output)
    print(f"weights: {args.output} ({args.model.removesuffix('-vr')} at quality {args.quality})")


def add_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    p = command("train", "train a registered model (resumes from OUT)")
    for f in fields(TrainConfig):
        if f.name in INTERNAL:
            continue
        flag, off_help = FLAGS.get(f.name, ("--" + f.name.replace("_", "-"), None))
        help_text = off_help or f.metadata["help"]
        if isinstance(f.default, bool):
            action = "store_false" if f.default else "store_true"
            p.add_argument(flag, dest=f.name, action=action, help=help_text)
        elif f.default is MISSING:
            p.add_argument(flag, dest=f.name, required=True, help=help_text)
        elif f.name == "channels":
            p.add_argument(flag, type=int, nargs=2, metavar=("N", "M"), help=help_text)
        elif f.name in ("relearn", "freeze"):
            p.add_argument(flag, nargs="+", default=(), metavar="PREFIX", help=help_text)
        else:
            kind = f.type.split(" |")[0]
            p.add_argument(
                flag,
                dest=f.name,
                type={"int": int, "float": float, "str": str}[kind],
                default=f.default,
                choices=CHOICES.get(f.name),
                help=help_text,
            )
    p.set_defaults(run=run_train)

    p = command("export", "write a checkpoint's weights as safetensors")
    p.add_argument("checkpoint", help="a run's checkpoint.pt")
    p.add_argument("-o", "--output", required=True, help="the .safetensors to write")
    p.set_defaults(run=run_export)

    p = command("fold", "fixed-rate weights from a variable-rate model at one quality")
    p.add_argument("--model", required=True, help="a variable-rate model (NAME-vr)")
    p.add_argument("--quality", type=int, required=True, help="the integer quality to fold at")
    p.add_argument("--weights", help="variable-rate weights (default: the shipped ones)")
    p.add_argument("-o", "--output", required=True, help="the .safetensors to write")
    p.set_defaults(run=run_fold)
