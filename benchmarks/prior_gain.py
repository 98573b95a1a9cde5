"""What a model's prior of y buys: the bits of y under the model's own entropy model (its
hyperprior and context, as coded) against a plain baseline, a zero-mean Gaussian per channel
whose σ is that channel's standard deviation over the image (an oracle that knows each image's
channel energies and nothing about where in the image they are; its 2·M numbers are not
counted). A prior that has learnt where the image is busy and where it is flat codes y in far
fewer bits than the baseline; one that has not stays near it.

    python benchmarks/prior_gain.py MODEL [MODEL ...] [--weights W ...] [--quality 4]
        [--images N] [--folder ../shared/data/kodak]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from lic.codec import image_to_tensor, model_for, open_image, pad
from lic.entropy import GaussianConditional

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"


@torch.no_grad()
def bits_of_y(
    model: torch.nn.Module, quality: float | None, x: torch.Tensor
) -> tuple[float, float]:
    """(bits of y under the model, bits under the per-channel baseline)."""
    q = model.quality_tensor(quality, 1)
    own = -model(x, quality).likelihoods["y"].double().log2().sum()
    y = model.analyze(x, q)
    sigma = y.std(dim=(0, 2, 3), keepdim=True).expand_as(y)
    baseline = -GaussianConditional().likelihood(y.round(), sigma).double().log2().sum()
    return float(own), float(baseline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--weights", nargs="+", help="one per model ('-': the shipped ones)")
    parser.add_argument("--quality", type=float, default=4)
    parser.add_argument("--images", type=int, default=24, help="the first N images")
    parser.add_argument("--folder", type=Path, default=KODAK)
    args = parser.parse_args()
    weights = args.weights or ["-"] * len(args.models)
    if len(weights) != len(args.models):
        raise SystemExit("give one --weights per model ('-' for the shipped ones)")
    files = sorted(args.folder.glob("*.png"))[: args.images]
    if not files:
        raise SystemExit(f"no PNG images in {args.folder}")
    print(f"bpp of y at quality {args.quality:g}, {len(files)} images of {args.folder}")
    for name, w in zip(args.models, weights):
        model, quality = model_for(name, args.quality, None if w == "-" else w)
        model.eval()
        own = baseline = pixels = 0.0
        for path in files:
            x, _ = image_to_tensor(open_image(path))  # as lic compress reads it, padded alike
            a, b = bits_of_y(model, quality, pad(x, model.stride))
            own, baseline, pixels = own + a, baseline + b, pixels + x.shape[2] * x.shape[3]
        print(
            f"{name:28s} own prior {own / pixels:.4f}  per-channel Gaussian {baseline / pixels:.4f}"
            f"  own/baseline {own / baseline:.3f}"
        )


if __name__ == "__main__":
    main()
