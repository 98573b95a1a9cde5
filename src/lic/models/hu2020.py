"""Hu, Yang & Liu 2020, "Coarse-to-fine hyper-prior modeling for learned image compression"
(AAAI): three latent layers, each the prior of the next, decoded in a few parallel passes.

The context a serial autoregressive model captures is modelled instead by deeper hyper-latent
layers (sec. 3.1), all fully parallel. The paper's z3 is y here, z2 and z1 keep their names:
  y  = g_a(x)            GDN analysis of Ballé et al. 2018 (four 5×5 ↓2 convolutions), ↓16
  z2 = h_a2(y)           signal-preserving hyper-analysis (`lic.layers.signal_preserving`), ↓32
  z1 = h_a1(z2)          the same again, ↓64
Decoding runs the other way (sec. 3.3): ẑ1 under a zero-mean Gaussian whose σ per channel is a
trained parameter shared over space (fig. 1); h1 = h_s1(ẑ1); the probability-estimation network
(fig. 2) maps h1 to (σ, μ) of z2; ẑ2; h2 = h_s2(ẑ2) gives (σ, μ) of y the same way; ŷ. The
synthesis g_s ends in a 5×5 ↑2 transposed convolution: in training stages 1 and 2 it reads the
features p_f of the three layers before it, in stage 3 (the coded model) the information-
aggregation network (fig. 3) first adds to p_f what h1 and h2 tell about the image, so the side
information also serves the reconstruction. The seed's notes give the transforms' layers but
not figures 2 and 3; lic's networks for them are described where they are defined.

Staged training (sec. 4.1), `lic train --stage`: 1 trains g_a and g_s with y under a factorized
density (the hyper layers do not take part), 2 adds the hyper layers and trains everything end
to end, 3 adds the aggregation network (its last layer starts at zero, so stage 3 starts from
stage 2's reconstruction). Each starts from the last one's weights (`--init`); the transforms
can start from any GDN model's, e.g. the shipped default's.

Coding precision as in every hyperprior model (`lic.models.base`): outside training the path
ẑ1 → (σ, μ) of z2 → ẑ2 → (σ, μ) of y runs in float64; y is coded in coding tiles, each tile's
(σ, μ) computed from ẑ2 around it. Streams: y, z2, z1.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from lic.coding import Decoder, Encoder
from lic.contexts import MeanScale
from lic.entropy import FactorizedDensity, GaussianConditional
from lic.errors import LicError
from lic.layers import conv, deconv, signal_preserving_analysis, signal_preserving_synthesis
from lic.models.base import Compressed, CompressionModel, ModelOutput, _channel_scale
from lic.models.bmshj2018 import analysis_transform, synthesis_transform
from lic.models.registry import register_family
from lic.models.tiling import CODING_TILE, coding_tiles, release_freed_memory, tiled, windowed

#: Factor on the initial weights of each hyper-analysis's last layer (its bias starts at 0):
#: at PyTorch's initialization each 1×1 layer shrinks its input about 3×, and z2 started at a
#: std of 0.06–0.36 (qualities 0–8, from the default's y), z1 at 0.06 around its biases. Nearly
#: all of it rounded to 0: after 2500 steps of stage 2 z2 was 97% zeros at quality 4 and carried
#: no information (y cost 1.03 bpp there, the default's 0.55).
HYPER_START_GAIN = 16.0
#: Halo, in z2 positions, of (σ, μ) of y computed from ẑ2 for one coding tile: h_s2's 3×3
#: convolution and the estimation network's three 3×3 convolutions see ±4 y positions (±2 of z2).
PSI_HALO = 3


def estimation_network(channels: int, out_channels: int) -> nn.Sequential:
    """The probability-estimation network (fig. 2): h_i → (σ, μ) of the next layer's latent,
    stacked along channels as `lic.contexts.MeanScale` reads them. lic's: three 3×3
    convolutions with LeakyReLU between them, all at the latent's resolution."""
    return nn.Sequential(
        conv(channels, channels, 3, 1),
        nn.LeakyReLU(inplace=True),
        conv(channels, channels, 3, 1),
        nn.LeakyReLU(inplace=True),
        conv(channels, 2 * out_channels, 3, 1),
    )


class InformationAggregation(nn.Module):
    """The information-aggregation reconstruction network (fig. 3), lic's version sized for CPU.

    h1 (at z2's grid) is lifted to y's grid by a 5×5 ↑2 transposed convolution and stacked with
    h2; three 5×5 ↑2 transposed convolutions with ReLU bring that to the grid of p_f, the
    synthesis features before its last layer (8× y's), in N/4 channels; two 1×1 convolutions
    fuse them with p_f, added back as a residual: p_f + F([p_f, side]). F's last layer starts
    at zero (the network then leaves p_f as it is).

    Args:
        N: channels of p_f and of h1.
        M: channels of h2 (those of y).
    """

    def __init__(self, N: int, M: int) -> None:
        super().__init__()
        self.lift = deconv(N, N)
        self.upsample = nn.Sequential(
            deconv(M + N, N // 2),
            nn.ReLU(inplace=True),
            deconv(N // 2, N // 2),
            nn.ReLU(inplace=True),
            deconv(N // 2, N // 4),
        )
        self.fuse = nn.Sequential(
            conv(N + N // 4, N, 1, 1), nn.LeakyReLU(inplace=True), conv(N, N, 1, 1)
        )
        nn.init.zeros_(self.fuse[-1].weight)
        nn.init.zeros_(self.fuse[-1].bias)

    def side(self, h1: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
        """[h2, lift(h1)] on y's grid: what the tiles of the synthesis read beside ŷ."""
        return torch.cat([h2, self.lift(h1)], 1)

    def forward(self, features: torch.Tensor, side: torch.Tensor) -> torch.Tensor:
        """p_f with the side information added (`side` from `self.side`)."""
        up = self.upsample(side)
        return features + self.fuse(torch.cat([features, up], 1))


class CoarseToFine(CompressionModel):
    """hu2020: the coarse-to-fine hyper-prior with information-aggregation reconstruction.

    Args:
        N: channels of the transforms and of the hyper transforms' inner layers.
        M: channels of y.
        rate_points: variable-rate gain units on y, z2 and z1 (qualities 9 − rate_points … 8).
        stage: the training stage (module docstring); 3 is the model that codes images.
        Z: channels of z2 and z1. The paper does not give them; N = 128 of them left z2 nearly
            all zeros below quality 8 after 4000 steps of the hyper path alone, 32 learnt a
            prior 0.85× a per-crop oracle's bits by step 3000 with z2 alive at every quality
            (docs/training-log.md, session 15): each of z2's elements must pay for itself, and
            it has four times a Ballé hyper-latent's positions.
    """

    family = "hu2020"
    stride = 64
    small_sizes = {"N": 16, "M": 24, "Z": 8}
    gain_sites = {
        "y": ("analysis", "synthesis"),
        "z2": ("hyper_analysis2", "hyper_synthesis2"),
        "z1": ("hyper_analysis1", "hyper_synthesis1"),
    }

    def __init__(
        self,
        N: int = 128,
        M: int = 192,
        rate_points: int = 0,
        stage: int = 3,
        *,
        Z: int = 32,
        quality: int | None = None,
    ) -> None:
        super().__init__(rate_points, quality)
        if stage not in (1, 2, 3):
            raise ValueError(f"stage must be 1, 2 or 3, got {stage!r}")
        if N % 4:
            raise ValueError(f"N must be a multiple of 4 (the aggregation's N/4), got {N}")
        self.N, self.M, self.Z, self.stage = N, M, Z, stage
        self.analysis = analysis_transform(N, M)
        self.synthesis = synthesis_transform(N, M)
        if stage == 1:  # the simple entropy model of stage 1, not part of the coded model
            self.y_density = FactorizedDensity(M)
        self.hyper_analysis2 = signal_preserving_analysis(M, N, Z)
        self.hyper_analysis1 = signal_preserving_analysis(Z, N, Z)
        with torch.no_grad():
            for last in (self.hyper_analysis2[-1], self.hyper_analysis1[-1]):
                last.weight.mul_(HYPER_START_GAIN)
                last.bias.zero_()
        self.hyper_synthesis1 = signal_preserving_synthesis(Z, N, N)
        self.hyper_synthesis2 = signal_preserving_synthesis(Z, N, M)
        self.estimation2 = estimation_network(N, Z)
        self.estimation3 = estimation_network(M, M)
        #: log σ of each channel of z1 (fig. 1: zero-mean, shared over space), before z1's gain.
        self.z1_log_scales = nn.Parameter(torch.zeros(Z))
        if stage == 3:  # not before: a stage's weights hold only what it trained, so the next
            # stage's --init gives it none untrained (they would learn at --init-lr-scale)
            self.aggregation = InformationAggregation(N, M)
        self.entropy_z = GaussianConditional()  # z2 and z1
        self.context = MeanScale()  # y
        self.add_gains("y", M)
        # The hyper-latents' gains start equal at every quality: trained hyperpriors' end up
        # nearly so (the default's z: 0.19–0.28 over qualities 0–8, y's 0.07–2.4), and the
        # y-like spread left z2 at quality 0 all zeros (y then cost 2 bpp at step 1000).
        self.add_gains("z2", Z, spread=0.0)
        self.add_gains("z1", Z, spread=0.0)

    @property
    def entropy_y(self) -> GaussianConditional:
        return self.context.entropy

    def latent_shapes(self, height: int, width: int) -> list[tuple[int, ...]]:
        return [
            (self.M, height // 16, width // 16),
            (self.Z, height // 32, width // 32),
            (self.Z, height // 64, width // 64),
        ]

    @torch.no_grad()
    def fold_gains(self, quality: float) -> dict[str, torch.Tensor]:
        """The fixed-rate twin (`CompressionModel.fold_gains`); σ of z1 takes z1's gain too,
        and the estimation networks' last layers those of z2 and y (`_gained`)."""
        state = super().fold_gains(quality)
        q = self.quality_tensor(quality, 1)
        state["z1_log_scales"] += self.gains["z1"].gain(q).flatten().log()
        for latent, network in (("z2", "estimation2"), ("y", "estimation3")):
            gain = self.gains[latent].gain(q).flatten().repeat(2)  # σ and μ
            last = len(getattr(self, network)) - 1
            layer = getattr(self, network)[last]
            state[f"{network}.{last}.weight"] *= _channel_scale(layer, gain, out=True)
            state[f"{network}.{last}.bias"] *= gain
        return state

    # --- the three layers ------------------------------------------------------------------

    def _precise(self, latent: torch.Tensor) -> torch.Tensor:
        """Outside training the entropy parameters' path runs in float64 (`lic.models.base`)."""
        return latent if self.training else latent.double()

    def _hyper_latents(
        self, y: torch.Tensor, q: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        z2 = self.gain("z2", self.hyper_analysis2(y), q)
        return z2, self.gain("z1", self.hyper_analysis1(z2), q)

    def _z1_scales(self, q: torch.Tensor | None, shape: torch.Size) -> torch.Tensor:
        """σ of every element of a z1 of `shape`: its channel's, times z1's gain."""
        scales = self._precise(self.z1_log_scales.exp()).reshape(1, -1, 1, 1)
        return self.gain("z1", scales, q).expand(shape)

    def _h1(self, z1_hat: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
        return self.hyper_synthesis1(self.inverse_gain("z1", z1_hat, q))

    def _h2(self, z2_hat: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
        return self.hyper_synthesis2(self.inverse_gain("z2", z2_hat, q))

    def _gained(
        self, latent: str, parameters: torch.Tensor, q: torch.Tensor | None
    ) -> torch.Tensor:
        """(σ, μ) of `latent` from its estimation network, which predicts them for the latent
        before its gain: both times the gain, as z1's σ is. Without it the network cannot tell
        the qualities apart where the layer above rounds to all zeros (z2 at qualities 0–2 early
        in training): it gave y one σ for all of them (0.055, where |y − μ| was 0.025 at
        quality 0 and 0.19 at 2) and y cost 2–3× the default's bits."""
        scales, means = parameters.chunk(2, 1)
        return torch.cat([self.gain(latent, scales, q), self.gain(latent, means, q)], 1)

    def _psi2(self, z1_hat: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
        """(σ, μ) of z2 from ẑ1 (float64 outside training)."""
        return self._gained("z2", self.estimation2(self._h1(self._precise(z1_hat), q)), q)

    def _psi3_of(self, h2: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
        """(σ, μ) of y from h2."""
        return self._gained("y", self.estimation3(h2), q)

    def _psi3(
        self, z2_hat: torch.Tensor, q: torch.Tensor | None, at: tuple[slice, slice]
    ) -> torch.Tensor:
        """(σ, μ) of y at the positions `at` of a coding tile, from ẑ2 around it (float64)."""
        return windowed(
            lambda z: self._psi3_of(self._h2(z, q), q), z2_hat.double(), at, 2, PSI_HALO
        )

    def _side(
        self, z1_hat: torch.Tensor, z2_hat: torch.Tensor, q: torch.Tensor | None
    ) -> torch.Tensor | None:
        """The aggregation's side information from the decoded hyper-latents (float32), or
        None before stage 3."""
        if self.stage < 3:
            return None
        h1, h2 = self._h1(z1_hat.float(), q), self._h2(z2_hat.float(), q)
        return self.aggregation.side(h1, h2)

    def synthesize(
        self,
        y_hat: torch.Tensor,
        q: torch.Tensor | None,
        finish: Callable[[torch.Tensor], torch.Tensor] | None = None,
        side: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x̂ = g_s(ŷ), with the aggregation network before its last layer when `side` is
        given (stage 3); in tiles outside training, ŷ and the side information together."""
        if side is None:
            return super().synthesize(y_hat, q, finish)
        M, last = self.M, len(self.synthesis) - 1

        def transform(stacked: torch.Tensor) -> torch.Tensor:
            y_hat = self.inverse_gain("y", stacked[:, :M].float(), q)
            y_hat = y_hat.contiguous(memory_format=torch.channels_last)
            features = self.synthesis[:last](y_hat)
            features = self.aggregation(features, stacked[:, M:].float())
            x_hat = self.synthesis[last](features)
            return x_hat if finish is None else finish(x_hat)

        stacked = torch.cat([y_hat.to(side.dtype), side], 1)
        if self.training:
            return transform(stacked)
        return tiled(transform, stacked, 1, self.y_stride, self.tile, self.tile_halo)

    # --- the three faces ---------------------------------------------------------------------

    def forward(self, x: torch.Tensor, quality: float | torch.Tensor | None = None) -> ModelOutput:
        q = self.quality_tensor(quality, x.shape[0])
        y = self.analyze(x, q)
        if self.stage == 1:
            y_hat, y_likelihood = self.y_density(y)
            return ModelOutput(self.synthesize(y_hat, q), {"y": y_likelihood}, y_hat)
        z2, z1 = self._hyper_latents(y, q)
        z1_hat, z1_likelihood = self.entropy_z(z1, self._z1_scales(q, z1.shape))
        z2_hat, z2_likelihood = self.entropy_z(z2, *self._psi2(z1_hat, q).chunk(2, 1))
        if self.training:
            h2 = self._h2(z2_hat, q)
            y_hat, y_likelihood = self.context(y, self._psi3_of(h2, q))
            side = None if self.stage < 3 else self.aggregation.side(self._h1(z1_hat, q), h2)
        else:  # exactly as coded, tile by tile
            y_hat, y_likelihood = (y.new_empty(y.shape) for _ in range(2))
            for at in coding_tiles(*y.shape[2:], CODING_TILE):
                tile = (..., *at)
                y_hat[tile], y_likelihood[tile] = self.context(y[tile], self._psi3(z2_hat, q, at))
            side = self._side(z1_hat, z2_hat, q)
        x_hat = self.synthesize(y_hat, q, side=side)
        likelihoods = {"y": y_likelihood, "z2": z2_likelihood, "z1": z1_likelihood}
        return ModelOutput(x_hat, likelihoods, y_hat)

    def _check_codes(self) -> None:
        if self.stage == 1:
            raise LicError("a stage-1 hu2020 model only trains its transforms: it does not code")

    @torch.no_grad()
    def compress(
        self,
        x: torch.Tensor,
        quality: float | None = None,
        *,
        coding_tile: int = CODING_TILE,
        refine: int = 0,
    ) -> Compressed:
        """The streams of y, z2 and z1; y coded tile by tile (`coding_tile` latents a side)."""
        self.check_refine(refine)
        self._check_codes()
        self.check_one_image(x)
        q = self.quality_tensor(quality, 1)
        y = self.analyze(x, q)
        z2, z1 = self._hyper_latents(y, q)
        encoders = [Encoder() for _ in range(3)]
        z1_hat = self.entropy_z.compress(encoders[2], z1, self._z1_scales(q, z1.shape))
        z2_hat = self.entropy_z.compress(encoders[1], z2, *self._psi2(z1_hat, q).chunk(2, 1))
        for at in coding_tiles(*y.shape[2:], coding_tile):
            self.context.compress(encoders[0], y[(..., *at)], self._psi3(z2_hat, q, at))
            release_freed_memory()
        return Compressed([e.finish() for e in encoders], [tuple(t.shape[1:]) for t in (y, z2, z1)])

    @torch.no_grad()
    def _decode(
        self,
        decoders: list[Decoder],
        shapes: list[tuple[int, ...]],
        q: torch.Tensor | None,
        coding_tile: int | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(ŷ, ẑ2, ẑ1), decoded z1 → z2 → y."""
        self._check_codes()
        z1_scales = self._z1_scales(q, torch.Size([1, *shapes[2]]))
        z1_hat = self.entropy_z.decompress(decoders[2], z1_scales)
        z2_hat = self.entropy_z.decompress(decoders[1], *self._psi2(z1_hat, q).chunk(2, 1))
        y_hat = torch.empty(1, *shapes[0])  # float32: what the synthesis takes
        for at in coding_tiles(*shapes[0][1:], coding_tile):
            y_hat[(..., *at)] = self.context.decompress(decoders[0], self._psi3(z2_hat, q, at))
            release_freed_memory()
        return y_hat, z2_hat, z1_hat

    def decode_latents(
        self,
        decoders: list[Decoder],
        shapes: list[tuple[int, ...]],
        q: torch.Tensor | None,
        coding_tile: int | None = CODING_TILE,
    ) -> torch.Tensor:
        return self._decode(decoders, shapes, q, coding_tile)[0]

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
        """The reconstruction from the three streams (`CompressionModel.decompress`), the
        aggregation network reading ẑ1 and ẑ2 beside ŷ."""
        q = self.quality_tensor(quality, 1)
        decoders = self.decoders(streams, shapes, marks)
        y_hat, z2_hat, z1_hat = self._decode(decoders, shapes, q, coding_tile)
        for decoder in decoders:
            decoder.check_finished()
        side = self._side(z1_hat, z2_hat, q)
        return self.synthesize(y_hat, q, finish or (lambda x_hat: x_hat.clamp(0, 1)), side)


register_family(CoarseToFine)
