"""Encoder-side latent refinement: spend encoding time to find latents that code better.

An amortized encoder g_a gives latents that are good on average, not the best for each image
(the "amortization gap"): Campos, Meierhans, Djelouah & Schroers 2019 ("Content adaptive
optimization for neural image compression", CVPR workshops) optimize y of each image by
gradient descent on the model's own loss R + λ·D with the weights held, and Yang, Bamler &
Mandt 2020 ("Improving inference for neural image compression", NeurIPS, sec. 3) optimize y
and z with stochastic Gumbel annealing (SGA, `lic.entropy.soft_round`) in place of rounding,
whose temperature falls towards zero so that the optimized objective becomes the coded one
(the straight-through estimator's biased gradients make the loss rise again after a few dozen
steps; SGA's does not).

Only the encoder changes: the file is an ordinary .lic file of the same model, decoded as
ever, and its latents round-trip exactly like any other. What it costs is a forward and
backward pass of the whole model per step (about 0.5 s for a 768×512 image with the default on
one core, in bfloat16): refinement is an opt-in, `lic compress --refine STEPS`, with figures in
`results/kodak/` (`lic eval --refine`).
"""

from __future__ import annotations

import copy
import importlib.util
import math

import torch
from torch import nn

from lic.errors import LicError
from lic.evaluate.metrics import MS_SSIM_MIN_SIDE
from lic.models.base import unit_range
from lic.train.loss import LAMBDAS, rd_loss

#: Adam's step size on the latents (units of the quantization step), and SGA's temperature at
#: the first and last step (falling geometrically), chosen on Kodak (docs/training-log.md).
LEARNING_RATE = 0.01
TEMPERATURES = (0.5, 0.05)
#: The largest image refined: the training-mode forward holds every activation of the whole
#: image for the backward pass (~5 GB at 4 megapixels for the default), where coding runs in
#: tiles of bounded memory.
MAX_PIXELS = 4_000_000


def rd_lambda(model: nn.Module, q: torch.Tensor | None) -> float:
    """λ of the model's objective at quality `q`: its fixed-rate quality's λ, or for a
    variable-rate model the λ table interpolated geometrically (as gain units interpolate
    their gains, `lic.layers.GainUnit`)."""
    table = LAMBDAS[model.metric]
    if q is None:
        return table[model.quality]
    quality = float(q.reshape(-1)[0])
    low = min(int(math.floor(quality)), len(table) - 2)
    frac = quality - low
    return math.exp((1 - frac) * math.log(table[low]) + frac * math.log(table[low + 1]))


def check_refinable(model: nn.Module, x: torch.Tensor, steps: int) -> None:
    """Refuse, before any of the image's analysis is spent, `steps` of refinement that
    `refine_latents` could not run on padded image `x`: negative steps, an image over
    `MAX_PIXELS`, or an MS-SSIM model's without MS-SSIM's five scales or pytorch-msssim."""
    if steps < 0:
        raise LicError(f"refinement steps must be 0 or more, got {steps}")
    if x.shape[-2] * x.shape[-1] > MAX_PIXELS:
        raise LicError(
            f"latent refinement takes images up to {MAX_PIXELS / 1e6:g} megapixels, this one has "
            f"{x.shape[-2] * x.shape[-1] / 1e6:.1f}: compress it without --refine"
        )
    if model.metric == "ms-ssim" and min(x.shape[-2:]) < MS_SSIM_MIN_SIDE:
        raise LicError(
            f"latent refinement of an MS-SSIM model needs images of at least {MS_SSIM_MIN_SIDE} "
            "pixels a side (MS-SSIM's five scales): compress this one without --refine"
        )
    if model.metric == "ms-ssim" and importlib.util.find_spec("pytorch_msssim") is None:
        raise LicError(
            "latent refinement of an MS-SSIM model needs pytorch-msssim: pip install 'lic[train]'"
        )


def refine_latents(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    z: torch.Tensor,
    q: torch.Tensor | None,
    steps: int,
    *,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """y and z after `steps` Adam steps on R + λ·D of image `x` (Yang et al. 2020, sec. 3.3),
    the model's weights held, or the latents given if those code at a lower R + λ·D (so
    refinement never makes a file worse by the model's own measure); the same image gives the
    same latents on the same machine (the Gumbel noise is seeded with `seed`, the global CPU
    random state left as it was). λ and the metric are those of the model's class
    (`rd_lambda`, `metric`): weights trained for another objective are refined for this one.

    `model` needs `forward_latents(y, z, q)` (`lic.models.bmshj2018.ScaleHyperprior`) and a
    `metric`; `x` is the padded image `compress` codes, float in [0, 1] or uint8.
    """
    check_refinable(model, x, steps)
    x = unit_range(x)
    lmbda = torch.tensor(rd_lambda(model, q))
    start = y, z
    y, z = (t.detach().float().clone().requires_grad_() for t in (y, z))
    optimizer = torch.optim.Adam([y, z], lr=LEARNING_RATE)
    # A copy in training mode, its weights held: the model itself stays as it was (another
    # thread may be coding with it meanwhile).
    relaxed = copy.deepcopy(model).train().requires_grad_(False)
    entropy_models = relaxed.entropy_models()
    first, last = TEMPERATURES
    with torch.enable_grad(), torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        for step in range(steps):
            temperature = first * (last / first) ** (step / max(steps - 1, 1))
            for entropy in entropy_models:
                entropy.temperature = temperature
            with torch.autocast(x.device.type, dtype=torch.bfloat16):
                out = relaxed.forward_latents(y, z, q)
            loss, _, _ = rd_loss(out.x_hat, x, out.likelihoods, lmbda, model.metric)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    del relaxed
    refined = y.detach(), z.detach()
    return min(start, refined, key=lambda latents: _coded_cost(model, x, latents, q, lmbda))


@torch.no_grad()
def _coded_cost(
    model: nn.Module,
    x: torch.Tensor,
    latents: tuple[torch.Tensor, torch.Tensor],
    q: torch.Tensor | None,
    lmbda: torch.Tensor,
) -> float:
    """R + λ·D of `latents` as they would be coded: the eval forward's likelihoods are those of
    the coded symbols, its reconstruction the decoder's (before 8-bit rounding)."""
    out = model.forward_latents(*latents, q)
    return float(rd_loss(out.x_hat, x, out.likelihoods, lmbda, model.metric)[0])
