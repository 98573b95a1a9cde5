"""Training steps/s of a model with lic's recipe (bf16 autocast, channels_last) against a
plain fp32 loop of the same model, measured side by side in one run.

    python benchmarks/train_speed.py [--model bmshj2018-hyperprior] [--steps 20]
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
    parser.add_argument("--model", default="bmshj2018-hyperprior")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    fast = steps_per_second(args.model, args.steps, args.batch, args.crop, True)
    plain = steps_per_second(args.model, args.steps, args.batch, args.crop, False)
    print(
        f"{args.model}, batch {args.batch}, {args.crop}² crops, {torch.get_num_threads()} threads"
    )
    print(f"lic recipe (bf16 autocast, channels_last): {fast:.2f} steps/s")
    print(f"plain fp32 loop:                          {plain:.2f} steps/s")
    print(f"ratio: {fast / plain:.2f}×")


if __name__ == "__main__":
    main()
