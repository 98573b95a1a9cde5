"""The rate–distortion objective L = R + λ·D (Ballé et al. 2018, eq. 13), and the target-rate
objective of Mentzer et al. 2018 (`target_rate_loss`).

R is the estimated rate in bits per pixel, Σ −log₂ p over all latents divided by the pixel
count; D is 255²·MSE (images in [0, 1]) or 1 − MS-SSIM. The λ tables are the ones the field
uses for qualities 1–8 (CompressAI's zoo): MSE 0.0018 … 0.18, MS-SSIM 2.40 … 220. Quality 0 is
lic's own, a quarter of quality 1's λ (about two of the table's ×1.93 steps): the variable-rate
models trained with it reach ~0.1 bpp on Kodak, where quality 1 of a model with far less
training than the field's stays near 0.3 bpp.
"""

from __future__ import annotations

import torch

#: λ of each integer quality 0–8, indexed by quality.
LAMBDAS = {
    "mse": (0.00045, 0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800),
    "ms-ssim": (0.60, 2.40, 4.58, 8.73, 16.64, 31.73, 60.50, 115.37, 220.00),
}


def lambda_for(quality: torch.Tensor, metric: str) -> torch.Tensor:
    """λ for each integer quality in 0–8."""
    table = torch.tensor(LAMBDAS[metric], dtype=torch.float32)
    return table[quality.long()]


def balanced_weights(quality: torch.Tensor, lowest: int, metric: str) -> torch.Tensor:
    """Per-quality loss weights ∝ λ^(−½), mean 1, for variable-rate training (`--balance`).

    With one set of transforms shared by all rate points, the plain sum of R + λ·D lets the
    high-λ points steer them: a point's loss grows about as √λ over the table (measured on
    the default model: ~0.5 at quality 1, ~4.9 at 8, for λ 100× apart). These weights bring
    every point's loss to a similar size, so the low rates are trained as much as the high.
    Returns the weight of each integer quality in `quality` (mean 1 over qualities lowest–8).
    """
    weights = torch.tensor(LAMBDAS[metric][lowest:], dtype=torch.float32).rsqrt()
    return (weights / weights.mean())[quality.long() - lowest]


def bits_per_pixel(likelihoods: dict[str, torch.Tensor], pixels: int) -> torch.Tensor:
    """Per-image rate estimate Σ −log₂ p / pixels, shape [B]."""
    bits = [(-torch.log2(p.float())).flatten(1).sum(1) for p in likelihoods.values()]
    return torch.stack(bits).sum(0) / pixels


def distortion(x_hat: torch.Tensor, x: torch.Tensor, metric: str) -> torch.Tensor:
    """Per-image distortion, shape [B]: 255²·MSE or 1 − MS-SSIM."""
    x_hat = x_hat.float()
    if metric == "mse":
        return 255.0**2 * (x_hat - x).pow(2).flatten(1).mean(1)
    from pytorch_msssim import ms_ssim  # lic[train]: compressing does not need it

    return 1 - ms_ssim(x_hat.clamp(0, 1), x, data_range=1.0, size_average=False)


def rd_loss(
    x_hat: torch.Tensor,
    x: torch.Tensor,
    likelihoods: dict[str, torch.Tensor],
    lmbda: torch.Tensor,
    metric: str = "mse",
    weight: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean of w·(λ·D + R) over the batch, bpp [B], mse [B]); λ and the weight w (default 1)
    may differ per image."""
    pixels = x.shape[2] * x.shape[3]
    bpp = bits_per_pixel(likelihoods, pixels)
    mse = (x_hat.float() - x).pow(2).flatten(1).mean(1)
    d = 255.0**2 * mse if metric == "mse" else distortion(x_hat, x, metric)
    loss = lmbda * d + bpp
    return (loss if weight is None else weight * loss).mean(), bpp.detach(), mse.detach()


def target_rate_loss(
    x_hat: torch.Tensor,
    x: torch.Tensor,
    likelihoods: dict[str, torch.Tensor],
    context_likelihoods: dict[str, torch.Tensor],
    lmbda: torch.Tensor,
    target_bpp: float,
    metric: str = "mse",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mentzer et al. 2018 (sec. 3.3 and 3.4): the auto-encoder minimizes d + β·max(R − R_t, 0),
    R the batch's mean estimated rate (bpp), R_t the model's target; its context models minimize
    their own cross-entropy R_P concurrently. As one loss, divided by β = 1/λ:
      L = mean(λ·D) + max(R − R_t, 0) + R_P,
    D as in `rd_loss`. `likelihoods` carry R's gradient to the auto-encoder alone (the context
    models' parameters held), `context_likelihoods` R_P's to the context models alone (their
    input held), so that the hinge, once R is below R_t, stops only the auto-encoder's rate term.
    With λ that of quality 0 (`lic.train.loop`) the hinge binds: the plain R + λ·D optimum lies
    below ~0.1 bpp, under every target. Returns (L, bpp [B], mse [B])."""
    pixels = x.shape[2] * x.shape[3]
    bpp = bits_per_pixel(likelihoods, pixels)
    own = bits_per_pixel(context_likelihoods, pixels)
    mse = (x_hat.float() - x).pow(2).flatten(1).mean(1)
    d = 255.0**2 * mse if metric == "mse" else distortion(x_hat, x, metric)
    loss = (lmbda * d).mean() + (bpp.mean() - target_bpp).clamp(min=0) + own.mean()
    return loss, bpp.detach(), mse.detach()
