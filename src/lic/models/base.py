"""The interface every lic model implements, and the variable-rate plumbing they share.

A model is a `torch.nn.Module` with three faces:
- `forward(x, quality)` for training: the reconstruction and the likelihood of every latent;
- `compress(x, quality)`: the latents' entropy-coded streams and shapes;
- `decompress(streams, shapes, quality)`: the reconstruction from those streams (models
  implement `decode_latents`, which gives back exactly the encoder's quantized y from one
  `lic.coding.Decoder` per stream).
Images are float tensors in [0, 1] (or uint8 in 0…255) of shape [1, 3, H, W] with H and W
multiples of `stride` (`lic.codec` pads and crops). Outside training, the analysis and synthesis
transforms run in overlapping tiles (`lic.models.tiling`), so coding any image size takes
bounded memory for them. Models built with `rate_points > 0` are variable-rate (gain
units, Cui et al. 2021): `quality` is then a float in [lowest_quality, 8], else it must be None.
The rate points are the top `rate_points` integer qualities of the λ table
(`lic.train.loss.LAMBDAS`): 8 points are the field's qualities 1–8, 9 add lic's quality 0
below them (a quarter of quality 1's λ, for rates down to ~0.1 bpp).

Coding precision. The σ of each latent picks its coder table by comparison with a scale table
(`lic.entropy.gaussian`), so encoder and decoder must compute σ (and the μ fed back into context
models) identically. float32 convolutions do not: another CPU, convolution backend or memory
layout rounds them differently (relative error ~1e-6), enough to move ~3 σ in 1.2 M across a
table boundary on eight Kodak photos, after which the decoder reads garbage. Outside training,
the hyperprior models therefore run the path from ẑ to (σ, μ) in float64 (error ~1e-15): ŷ is
float64 there, and only the synthesis transform runs in float32.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from lic.coding import Decoder
from lic.entropy import EntropyModel, FactorizedDensity
from lic.errors import LicError
from lic.layers import GainUnit
from lic.models.tiling import CODING_TILE, HALO, TILE, tiled


@dataclass
class ModelOutput:
    """What `forward` returns: the reconstruction and the likelihoods of each latent."""

    x_hat: torch.Tensor
    likelihoods: dict[str, torch.Tensor]
    y_hat: torch.Tensor


@dataclass
class Compressed:
    """What `compress` returns: one byte stream per latent and the latents' shapes [C, H, W]."""

    streams: list[bytes]
    shapes: list[tuple[int, ...]]


#: The highest quality, λ = 0.18 (MSE): every variable-rate model's top rate point.
HIGHEST_QUALITY = 8


def lowest_quality(rate_points: int) -> int:
    """The lowest quality of a model with `rate_points` rate points (they end at quality 8)."""
    return HIGHEST_QUALITY + 1 - rate_points


def unit_range(x: torch.Tensor) -> torch.Tensor:
    """Pixels as float in [0, 1]: uint8 ones scaled by 1/255, float ones as they are."""
    return x.float().div(255) if x.dtype == torch.uint8 else x.float()


class CompressionModel(nn.Module):
    """Base class: entropy-model bookkeeping, auxiliary loss and gain units."""

    #: Total down-sampling factor from the image to the deepest latent.
    stride: int = 16
    #: Down-sampling factor of the analysis transform g_a (image → y).
    y_stride: int = 16
    #: Tile side and halo (latent positions) of g_a and g_s outside training (lic.models.tiling).
    tile: int = TILE
    tile_halo: int = HALO
    #: Where each gained latent is made and consumed: latent → (producer, consumer), two
    #: nn.Sequential transforms ending and starting with a (transposed) convolution.
    gain_sites: dict[str, tuple[str, str]] = {}

    #: The family's name in the papers' words (`lic.catalog` lists its models and sizes): the
    #: model is `family` at a fixed quality, or `<family>-vr` with gain units.
    family: str = ""
    #: The rate (bpp) a model trained to hold one is trained to (Mentzer et al. 2018's
    #: d + β·max(H − H_target, 0), `lic.train.loss.target_rate_loss`); None: R + λ·D.
    target_bpp: float | None = None
    #: The distortion the model is trained for, "mse" or "ms-ssim" (`lic.train.loss`): what
    #: latent refinement (`lic.refine`) weighs against the rate.
    metric: str = "mse"
    #: Whether `compress` takes `refine` steps of latent refinement (`lic.refine`).
    refinable: bool = False
    #: The smallest sizes the architecture takes: tests and quick benchmarks build these.
    small_sizes: dict[str, int] = {"N": 16, "M": 24}

    def __init__(self, rate_points: int = 0, quality: int | None = None) -> None:
        super().__init__()
        if rate_points > HIGHEST_QUALITY + 1:
            raise ValueError(f"at most {HIGHEST_QUALITY + 1} rate points (qualities 0–8)")
        if rate_points and quality is not None:
            raise ValueError("a variable-rate model takes its quality when coding, not here")
        #: The registered name, and a fixed-rate model's quality (its λ; None if variable-rate).
        self.name = f"{self.family}-vr" if rate_points else self.family
        self.quality = quality
        self.rate_points = rate_points
        self.lowest_quality = lowest_quality(rate_points)
        self.gains = nn.ModuleDict()
        self.register_state_dict_post_hook(_context_at_top)
        self.register_load_state_dict_pre_hook(_context_inside)

    @property
    def variable_rate(self) -> bool:
        return self.rate_points > 0

    def add_gains(self, latent: str, channels: int, spread: float = 0.5) -> None:
        """Create the gain and inverse-gain units of `latent` when the model is variable-rate,
        starting at gains 2^(±spread) per rate point apart (`GainUnit`)."""
        if self.variable_rate:
            points, first = self.rate_points, self.lowest_quality
            self.gains[latent] = GainUnit(channels, points, spread, first=first)
            self.gains[latent + "_inverse"] = GainUnit(channels, points, -spread, first=first)

    def gain(self, latent: str, x: torch.Tensor, quality: torch.Tensor | None) -> torch.Tensor:
        """x scaled by the gain of `latent` at `quality` (identity for fixed-rate models)."""
        return x if quality is None else self.gains[latent](x, quality)

    def inverse_gain(
        self, latent: str, x: torch.Tensor, quality: torch.Tensor | None
    ) -> torch.Tensor:
        return x if quality is None else self.gains[latent + "_inverse"](x, quality)

    @torch.no_grad()
    def fold_gains(self, quality: float) -> dict[str, torch.Tensor]:
        """The state dict of this variable-rate model's fixed-rate twin at `quality`.

        A gain unit (Cui et al. 2021, sec. 3) multiplies each channel of a latent just after the
        convolution that makes it and the inverse gain just before the layer that consumes it;
        both are linear per channel, so the gain folds into the producer's output channels
        (weight and bias) and the inverse gain into the consumer's input channels. The twin
        computes the same function without gain units (equal up to float rounding).
        """
        unfoldable = {k for k in self.gains if not k.endswith("_inverse")} - set(self.gain_sites)
        if unfoldable:
            raise LicError(
                f"the gains of {', '.join(sorted(unfoldable))} sit beside layers other than "
                "convolutions: this model has no fixed-rate twin to fold into"
            )
        q = self.quality_tensor(quality, 1)
        state = {k: v.clone() for k, v in self.state_dict().items() if not k.startswith("gains.")}
        for latent, (producer, consumer) in self.gain_sites.items():
            last = len(getattr(self, producer)) - 1
            gain = self.gains[latent].gain(q).flatten()
            inverse = self.gains[latent + "_inverse"].gain(q).flatten()
            state[f"{producer}.{last}.weight"] *= _channel_scale(
                getattr(self, producer)[last], gain, out=True
            )
            state[f"{producer}.{last}.bias"] *= gain
            state[f"{consumer}.0.weight"] *= _channel_scale(
                getattr(self, consumer)[0], inverse, out=False
            )
        return state

    def analyze(self, x: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
        """y = g_a(x), gained: channels_last (oneDNN's faster layout on CPU, ~30% less time).

        `x` is float in [0, 1] or uint8 (converted tile by tile, so a big image stays 8-bit)."""

        def transform(x: torch.Tensor) -> torch.Tensor:
            x = unit_range(x).contiguous(memory_format=torch.channels_last)
            return self.gain("y", self.analysis(x), q)

        if self.training:
            return transform(x)
        return tiled(transform, x, self.y_stride, 1, self.tile, self.tile_halo)

    def synthesize(
        self,
        y_hat: torch.Tensor,
        q: torch.Tensor | None,
        finish: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """x̂ = g_s(ŷ) in float32 and channels_last, the inverse gain first; `finish` maps each
        tile's x̂ to what is kept (`lic.codec` makes 8-bit pixels: a big image never exists in
        float32)."""

        def transform(y_hat: torch.Tensor) -> torch.Tensor:
            y_hat = self.inverse_gain("y", y_hat.float(), q)
            x_hat = self.synthesis(y_hat.contiguous(memory_format=torch.channels_last))
            return x_hat if finish is None else finish(x_hat)

        if self.training:
            return transform(y_hat)
        return tiled(transform, y_hat, 1, self.y_stride, self.tile, self.tile_halo)

    def quality_tensor(
        self, quality: float | torch.Tensor | None, batch: int
    ) -> torch.Tensor | None:
        """Validate `quality` and broadcast it to shape [batch]."""
        if not self.variable_rate:
            if quality is not None:
                raise LicError("this model has a fixed rate: choose its quality when loading it")
            return None
        span = f"[{self.lowest_quality}, {HIGHEST_QUALITY}]"
        if quality is None:
            raise LicError(f"this variable-rate model needs a quality in {span}")
        q = torch.as_tensor(quality, dtype=torch.float32).reshape(-1).expand(batch)
        if torch.any(q < self.lowest_quality) or torch.any(q > HIGHEST_QUALITY) or q.isnan().any():
            raise LicError(f"quality must lie in {span}, got {quality}")
        return q

    @staticmethod
    def check_one_image(x: torch.Tensor) -> None:
        """`compress` codes one image into one set of streams: a batch is refused, never
        coded into streams that decode to fewer images."""
        if x.dim() != 4 or x.shape[0] != 1:
            raise LicError(
                f"compress takes one image [1, 3, H, W], got shape {list(x.shape)}: "
                "call it once per image"
            )

    def entropy_models(self) -> list[EntropyModel]:
        return [m for m in self.modules() if isinstance(m, EntropyModel)]

    def aux_loss(self) -> torch.Tensor:
        """Σ of the factorized densities' quantile losses (trained on their own optimizer)."""
        losses = [m.aux_loss() for m in self.modules() if isinstance(m, FactorizedDensity)]
        return torch.stack(losses).sum() if losses else torch.zeros(())

    def fit_quantiles(self, steps: int = 1000, lr: float = 0.5) -> float:
        """Minimize the auxiliary loss over the quantiles alone, the densities frozen.

        Training moves the quantiles slowly (aux learning rate 1e-3); exporting runs this so the
        coder tables' bounds sit at the tail_mass points. Returns the final auxiliary loss.
        """
        quantiles = [m.quantiles for m in self.modules() if isinstance(m, FactorizedDensity)]
        if not quantiles:
            return 0.0
        optimizer = torch.optim.Adam(quantiles, lr=lr)
        for _ in range(steps):
            loss = self.aux_loss()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        for p in quantiles:
            p.grad = None
        return float(self.aux_loss().detach())

    def update(self) -> None:
        """Rebuild every coder table now (they are also rebuilt lazily when stale)."""
        for model in self.entropy_models():
            model.update()

    def latent_shapes(self, height: int, width: int) -> list[tuple[int, ...]]:
        """Shapes [C, H, W] of the latents `compress` codes for a padded height × width image."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, quality: float | torch.Tensor | None = None) -> ModelOutput:
        raise NotImplementedError

    def compress(
        self, x: torch.Tensor, quality: float | None = None, *, refine: int = 0
    ) -> Compressed:
        """The streams of padded image `x`, after `refine` steps of encoder-side latent
        refinement (`lic.refine`): a model that has none refuses any but 0 (`check_refine`)."""
        raise NotImplementedError

    def check_refine(self, refine: int) -> None:
        """Refuse `refine` steps of latent refinement where the model has none (`refinable`)."""
        if refine and not self.refinable:
            raise LicError(f"{self.name} has no latent refinement: compress it without --refine")

    def decode_latents(
        self,
        decoders: list[Decoder],
        shapes: list[tuple[int, ...]],
        q: torch.Tensor | None,
        coding_tile: int | None = CODING_TILE,
    ) -> torch.Tensor:
        """ŷ (gain applied) from one decoder per stream: exactly the encoder's quantized y, its
        coding tiles `coding_tile` latents a side (None: one grid, format versions 1 and 2)."""
        raise NotImplementedError

    @staticmethod
    def decoders(
        streams: list[bytes], shapes: list[tuple[int, ...]], marks: bool = True
    ) -> list[Decoder]:
        """One decoder per stream, each expecting the symbols of its latent's shape."""
        if len(streams) != len(shapes):
            raise LicError(f"corrupted file: {len(streams)} streams for {len(shapes)} latents")
        return [
            Decoder(stream, math.prod(shape), marks=marks) for stream, shape in zip(streams, shapes)
        ]

    @torch.no_grad()
    def decompress(
        self,
        streams: list[bytes],
        shapes: list[tuple[int, ...]],
        quality: float | None = None,
        *,
        finish: Callable[[torch.Tensor], torch.Tensor] | None = None,
        marks: bool = True,
        coding_tile: int | None = CODING_TILE,
    ) -> torch.Tensor:
        """The reconstruction g_s(ŷ) clamped to [0, 1], or `finish` of it, tile by tile.

        Every stream must hold exactly the symbols of its latent's shape, with the coder's check
        and end marks (`marks=False` reads format-version-1 streams, which have none): a stream
        that ends early or holds garbage is refused before the synthesis runs. `coding_tile`
        None reads y coded as one grid (format versions 1 and 2)."""
        q = self.quality_tensor(quality, 1)
        decoders = self.decoders(streams, shapes, marks)
        y_hat = self.decode_latents(decoders, shapes, q, coding_tile)
        for decoder in decoders:
            decoder.check_finished()
        return self.synthesize(y_hat, q, finish or (lambda x_hat: x_hat.clamp(0, 1)))


def _channel_scale(layer: nn.Module, scale: torch.Tensor, out: bool) -> torch.Tensor:
    """`scale` shaped to multiply `layer`'s weight along its output (or input) channels."""
    if not isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
        raise TypeError(f"gains fold only into convolutions, not {type(layer).__name__}")
    # Conv2d weights are [out, in, k, k]; ConvTranspose2d weights are [in, out, k, k].
    dim = 0 if out == isinstance(layer, nn.Conv2d) else 1
    return scale.reshape([-1 if d == dim else 1 for d in range(4)])


# The parameters of a model's context model (`model.context`, `lic.contexts`) sit at the top level
# of its state dict, where they were before contexts became parts of their own: the shipped
# weights files, and the weights digest every .lic file carries, keep their tensor names.
_CONTEXT = "context."


def _context_at_top(
    module: nn.Module, state: dict[str, torch.Tensor], prefix: str, metadata: object
) -> None:
    """state_dict post-hook: `context.X` → `X`."""
    for key in [k for k in state if k.startswith(prefix + _CONTEXT)]:
        state[prefix + key[len(prefix + _CONTEXT) :]] = state.pop(key)


def _context_inside(
    module: nn.Module, state: dict[str, torch.Tensor], prefix: str, *args: object
) -> None:
    """load_state_dict pre-hook: `X` → `context.X` for the context's own modules."""
    context = getattr(module, "context", None)
    if not isinstance(context, nn.Module):
        return
    names = {name for name, _ in context.named_children()}
    for key in [k for k in state if k.startswith(prefix)]:
        if key[len(prefix) :].split(".")[0] in names:
            state[prefix + _CONTEXT + key[len(prefix) :]] = state.pop(key)
