"""Mentzer, Agustsson, Tschannen, Timofte & Van Gool 2018, "Conditional probability models for
deep image compression" (CVPR): an auto-encoder whose latent, quantized to L learned centres, is
coded under a 3D context model trained with it, with an importance map for spatial bit allocation.

  E: conv5×5↓2 (N/2), ReLU, conv5×5↓2 (N), ReLU, B residual blocks, conv5×5↓2 (M + 1)
  D: deconv5×5↑2 (N), ReLU, B residual blocks, deconv5×5↑2 (N/2), ReLU, deconv5×5↑2 (3)
The paper: N = 128, M = K = 32 channels plus the importance channel, B = 15, L = 6, stride 8.
Its blocks are two 3×3 convolutions with batch normalization, with further skips around every
three blocks and around all of them (lic's reading of fig. 2, which the seed's notes do not
reproduce). lic has no batch normalization anywhere (a coded model would carry its statistics
for nothing), and takes its own residual block (`lic.layers.ResidualBlock`: LeakyReLU after
each convolution) with the same skips.

Quantization (sec. 3.1): each of the M channels of E(x) to the nearest of L learned centres,
the soft assignment's gradient backward (`lic.entropy.CentreQuantizer`).

Importance map (sec. 3.4): E's last channel e becomes y = M·sigmoid(e) ∈ (0, M) (the sigmoid is
lic's choice of how y reaches that range: at least one channel is kept everywhere, and y's
gradient never vanishes), and the mask over the M channels
  m_k = 1 for k ≤ y − 1,  y − k for y − 1 < k < y,  0 for k ≥ y   (k = 0 … M − 1),
that is m_k = clamp(y − k, 0, 1), is applied as ẑ ← ẑ ⊙ ⌈m⌉: forward ⌈m_k⌉ = [k < y] (the
first n = ⌈y⌉ channels kept, the rest zeroed), backward m's gradient, through
⌈m⌉ = stop_gradient(⌈m⌉ − m) + m. The rate weighs each symbol's cost by that mask (a masked
symbol costs nothing), so the gradient of the rate moves y down where a channel costs more than
it gives the distortion. The decoder must know the mask: the count map n (0 … M per position)
is coded first, each count under a learned categorical given the count above it
(`lic.entropy.MarkovCategorical`: ≤ log₂(M + 1)/64 bpp, far less where counts change slowly);
its cross-entropy is part of the rate.

Context model (sec. 3.2): `lic.entropy.ContextModel3d`, P = masked 3D convolutions (3×3×3,
24 filters, one residual block) over ẑ in raster order (channel, row, column), L logits a symbol.

Objective (sec. 3.3 and 3.4): (E, D) minimize d + β·max(H − H_t, 0), H the rate estimate (the
context models' cross-entropy, with their parameters held), H_t the target rate of the model's
quality (`TARGET_BPP`); the context models minimize their own cross-entropy (with E held)
concurrently. `lic.train.loss.target_rate_loss` is that objective, `lic train` uses it for every
model that declares a `target_bpp`; forward returns both likelihoods (`ConcurrentOutput`).
The paper trains for MS-SSIM (`lic train --metric ms-ssim`); MSE works the same way.

Coding: two streams, ẑ (M, H, W) and the count map (1, H, W). ẑ is coded one coding tile at a time
(`lic.models.tiling.CODING_TILE`, 64 latent positions a side, format version 3; None: one grid),
each tile's context seeing zeros beyond it, which bounds coding memory (P's float64 features of a
tile, ~90 MB at the paper's sizes); the eval forward computes the likelihoods tile by tile too,
exactly what is coded. Decoding visits each tile in wavefronts, not symbol by symbol
(`lic.entropy.context3d`). The model is fixed-rate only: one per target rate, no gain units
(its constructor takes no `rate_points`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lic.coding import Decoder, Encoder
from lic.entropy import CentreQuantizer, ContextModel3d, MarkovCategorical
from lic.errors import LicError
from lic.layers import ResidualBlock, conv, deconv
from lic.models.base import Compressed, CompressionModel, ModelOutput
from lic.models.registry import register_family
from lic.models.tiling import CODING_TILE, coding_tiles, release_freed_memory

#: H_t of each quality, in bits per pixel: the rate the objective holds the model at.
TARGET_BPP = {1: 0.2, 2: 0.4, 3: 0.8}


@dataclass
class ConcurrentOutput(ModelOutput):
    """`ModelOutput`, and the likelihoods under which the context models train themselves
    (sec. 3.3): of the same symbols, with E's output detached (in eval mode the same tensors as
    `likelihoods`). `likelihoods` carry the rate's gradient to E alone."""

    context_likelihoods: dict[str, torch.Tensor]


class ResidualStack(nn.Module):
    """B residual blocks at constant resolution, a skip around every three and one around all
    (fig. 2). Receptive field: radius 2B."""

    def __init__(self, channels: int, blocks: int) -> None:
        super().__init__()
        self.groups = nn.ModuleList(
            nn.Sequential(
                *(ResidualBlock(channels, channels) for _ in range(a, min(a + 3, blocks)))
            )
            for a in range(0, blocks, 3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for group in self.groups:
            h = h + group(h)
        return x + h


def analysis_transform(N: int, M: int, blocks: int) -> nn.Sequential:
    """E: to M channels of the latent plus the importance channel, ↓8."""
    return nn.Sequential(
        conv(3, N // 2),
        nn.ReLU(inplace=True),
        conv(N // 2, N),
        nn.ReLU(inplace=True),
        ResidualStack(N, blocks),
        conv(N, M + 1),
    )


def synthesis_transform(N: int, M: int, blocks: int) -> nn.Sequential:
    """D: E's mirror with transposed convolutions, ↑8."""
    return nn.Sequential(
        deconv(M, N),
        nn.ReLU(inplace=True),
        ResidualStack(N, blocks),
        deconv(N, N // 2),
        nn.ReLU(inplace=True),
        deconv(N // 2, 3),
    )


def channel_mask(counts: torch.Tensor, channels: int) -> torch.Tensor:
    """Which of `channels` channels each position keeps, bool [..., channels, H, W], from the
    counts [..., H, W]: channel k where k < count."""
    k = torch.arange(channels, device=counts.device).view(-1, 1, 1)
    return k < counts.unsqueeze(-3)


def importance_mask(importance: torch.Tensor, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n [B, H, W] long, ⌈m⌉ [B, M, H, W]) of E's importance channel e [B, H, W] (module
    docstring): y = M·sigmoid(e), n = ⌈y⌉, m_k = clamp(y − k, 0, 1); the mask's value is
    ⌈m⌉ = [k < n], its gradient m's."""
    with torch.autocast(importance.device.type, enabled=False):
        y = channels * torch.sigmoid(importance.float())
        counts = torch.ceil(y).long()
        k = torch.arange(channels, device=y.device, dtype=y.dtype).view(1, -1, 1, 1)
        soft = (y.unsqueeze(1) - k).clamp(0, 1)
        hard = channel_mask(counts, channels).to(y.dtype)
        return counts, (hard - soft).detach() + soft


class Mentzer2018(CompressionModel):
    """mentzer2018: E, D, L centres, the 3D context model and the importance map.

    Args:
        N: channels of the transforms (their first layer N/2).
        M: K of the paper, channels of ẑ (E makes one more: the importance map).
        L: centres.
        blocks: residual blocks of E and of D.
        filters: channels of the context model's hidden layers.
        context_blocks: residual blocks of the context model.
        quality: the model's quality, which sets its target rate (`TARGET_BPP`).
    """

    family = "mentzer2018"
    stride = 8
    y_stride = 8
    #: Analysis/synthesis tile side (latent positions): a Kodak image is one tile.
    tile = 128
    small_sizes = {"N": 8, "M": 4, "L": 3, "blocks": 1, "filters": 4}

    def __init__(
        self,
        N: int = 128,
        M: int = 32,
        L: int = 6,
        blocks: int = 15,
        filters: int = 24,
        context_blocks: int = 1,
        *,
        quality: int | None = None,
    ) -> None:
        super().__init__(0, quality)
        if N < 2 or N % 2:
            raise ValueError(f"N must be even (the first layer has N/2 channels), got {N}")
        if M < 1 or blocks < 0:
            raise ValueError(f"M must be positive and blocks non-negative, got {M}, {blocks}")
        self.N, self.M, self.L = N, M, L
        #: The rate the objective holds this model at (None: built without a quality).
        self.target_bpp = TARGET_BPP.get(quality)
        # E and D see ±(blocks + 2) latent positions (2 a block at ↓4, ~2 for the rest).
        self.tile_halo = blocks + 3
        self.analysis = analysis_transform(N, M, blocks)
        self.synthesis = synthesis_transform(N, M, blocks)
        self.quantizer = CentreQuantizer(L)
        self.context_model = ContextModel3d(L, filters, context_blocks)
        self.importance_model = MarkovCategorical(M + 1)

    @property
    def entropy_y(self) -> ContextModel3d:
        """The entropy model of ẑ (`lic train` sets its `straight_through`, which nothing here
        reads: ẑ is always the nearest centre forward, the soft assignment backward)."""
        return self.context_model

    def latent_shapes(self, height: int, width: int) -> list[tuple[int, ...]]:
        return [(self.M, height // 8, width // 8), (1, height // 8, width // 8)]

    def forward(
        self, x: torch.Tensor, quality: float | torch.Tensor | None = None
    ) -> ConcurrentOutput:
        self.quality_tensor(quality, x.shape[0])
        y = self.analyze(x, None)
        z_hat, symbols = self.quantizer(y[:, : self.M])
        counts, mask = importance_mask(y[:, self.M], self.M)
        if self.training:
            z_hat = z_hat * mask
            likelihoods = {  # the rate E sees: the context models held
                "z": self.context_model.likelihood(z_hat, symbols, mask, frozen=True),
                "importance": self.importance_model.likelihood(counts, frozen=True),
            }
            context_likelihoods = {  # the context models' own cross-entropy: E held
                "z": self.context_model.likelihood(z_hat.detach(), symbols, mask.detach()),
                "importance": self.importance_model.likelihood(counts),
            }
        else:  # exactly as coded, tile by tile
            active = channel_mask(counts, self.M)
            z_hat = torch.where(active, z_hat, 0.0)
            z_likelihood = torch.ones_like(z_hat, dtype=torch.float64)
            for at in coding_tiles(*z_hat.shape[2:], CODING_TILE):
                tile = (..., *at)
                z_likelihood[tile] = self.context_model.likelihood(
                    z_hat[tile].double(), symbols[tile], active[tile]
                )
            likelihoods = {
                "z": z_likelihood,
                "importance": self.importance_model.likelihood(counts),
            }
            context_likelihoods = likelihoods
        x_hat = self.synthesize(z_hat, None)
        return ConcurrentOutput(x_hat, likelihoods, z_hat, context_likelihoods)

    @torch.no_grad()
    def compress(
        self,
        x: torch.Tensor,
        quality: float | None = None,
        *,
        coding_tile: int = CODING_TILE,
        refine: int = 0,
    ) -> Compressed:
        """The streams of ẑ (tile by tile, `coding_tile` latents a side) and of the counts."""
        self.check_refine(refine)
        self.check_one_image(x)
        self.quality_tensor(quality, 1)
        y = self.analyze(x, None)
        symbols = self.quantizer.indices(y[0, : self.M])
        counts = importance_mask(y[:, self.M], self.M)[0][0]
        active = channel_mask(counts, self.M)
        z_encoder, count_encoder = Encoder(), Encoder()
        self.importance_model.compress(count_encoder, counts)
        centres = self.quantizer.centres.detach().double()
        for at in coding_tiles(*counts.shape, coding_tile):
            tile = (..., *at)
            self.context_model.compress(z_encoder, centres, symbols[tile], active[tile])
            release_freed_memory()
        shapes = self.latent_shapes(*(8 * s for s in counts.shape))
        return Compressed([z_encoder.finish(), count_encoder.finish()], shapes)

    @torch.no_grad()
    def decode_latents(
        self,
        decoders: list[Decoder],
        shapes: list[tuple[int, ...]],
        q: torch.Tensor | None,
        coding_tile: int | None = CODING_TILE,
    ) -> torch.Tensor:
        """ẑ: the counts first (they say which symbols are coded), then ẑ tile by tile."""
        try:
            (channels, height, width), count_shape = shapes
        except (TypeError, ValueError):
            raise LicError(f"corrupted file: latent shapes {shapes} are not this model's") from None
        if (channels, *count_shape) != (self.M, 1, height, width):
            raise LicError(f"corrupted file: latent shapes {shapes} are not this model's")
        counts = self.importance_model.decompress(decoders[1], (height, width))
        active = channel_mask(counts, self.M)
        centres = self.quantizer.centres.detach().double()
        symbols = torch.zeros(self.M, height, width, dtype=torch.long)
        for at in coding_tiles(height, width, coding_tile):
            tile = (..., *at)
            symbols[tile] = self.context_model.decompress(decoders[0], centres, active[tile])
            release_freed_memory()
        return torch.where(active, self.quantizer.values(symbols), 0.0)[None]


register_family(Mentzer2018)
