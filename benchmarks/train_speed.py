"""Training steps/s of models with lic's recipe (bf16 autocast, channels_last), side by side in
one run, each as a ratio to the first; with --plain also a plain fp32 loop of each.

    python benchmarks/train_speed.py --models he2021-checkerboard-vr elic2022-vr elic2022 \
        [--steps 20] [--batch 2] [--crop 256] [--threads 1] [--plain]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from lic.models.registry import get_spec
from lic.train.loss import rd_loss


def steps_per_second(model_name: str, steps: int, batch: int, crop: int, lic_recipe: bool) -> float:
    torch.manual_seed(0)
    spec = get_spec(model_name)
    model = spec.build(None if spec.variable_rate else 3).train()
    if lic_recipe:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.rand(batch, 3, crop, crop)
    if lic_recipe:
        x = x.contiguous(memory_format=torch.channels_last)
    quality = torch.full((batch,), 3.0) if spec.variable_rate else None
    lmbda = torch.full((batch,), 0.0067)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=lic_recipe):
            out = model(x, quality)
        loss, _, _ = rd_loss(out.x_hat, x, out.likelihoods, lmbda)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=["bmshj2018-hyperprior"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--plain", action="store_true", help="also time a plain fp32 loop")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"batch {args.batch}, {args.crop}² crops, {args.threads} threads, {args.steps} steps")
    first = None
    for name in args.models:
        fast = steps_per_second(name, args.steps, args.batch, args.crop, True)
        first = first or fast
        line = f"{name:28s} lic recipe {fast:6.3f} steps/s  ×{fast / first:.2f} of the first"
        if args.plain:
            plain = steps_per_second(name, args.steps, args.batch, args.crop, False)
            line += f"  plain fp32 {plain:6.3f} steps/s (recipe ×{fast / plain:.2f})"
        print(line, flush=True)


if __name__ == "__main__":
    main()
