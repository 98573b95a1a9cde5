"""Ballé, Minnen, Singh, Hwang & Johnston 2018, "Variational image compression with a scale
hyperprior" (ICLR): the factorized-prior model and the scale-hyperprior model (figure 4).

analysis  g_a: conv5×5↓2 (N), GDN, conv5×5↓2 (N), GDN, conv5×5↓2 (N), GDN, conv5×5↓2 (M)
synthesis g_s: the mirror image with transposed convolutions and IGDN, ending in 3 channels.
hyper-analysis  h_a: |y| → conv3×3 (N), ReLU, conv5×5↓2 (N), ReLU, conv5×5↓2 (N)
hyper-synthesis h_s: ẑ → deconv5×5↑2 (N), ReLU, deconv5×5↑2 (N), ReLU, conv3×3 (M), ReLU = σ
The factorized model codes y with the factorized density (appendix 6.1); the hyperprior model
codes z so, and y with a zero-mean Gaussian whose σ per element comes from h_s(ẑ) (eq. 9).
"""

from __future__ import annotations

import torch
from torch import nn

from lic.coding import Decoder, Encoder
from lic.contexts import Context, ScaleOnly
from lic.entropy import FactorizedDensity, GaussianConditional
from lic.layers import GDN, conv, deconv
from lic.models.base import Compressed, CompressionModel, ModelOutput
from lic.models.registry import register_family
from lic.models.tiling import CODING_TILE, coding_tiles, release_freed_memory, tiled, windowed


def analysis_transform(N: int, M: int) -> nn.Sequential:
    """g_a of figure 4: four 5×5 stride-2 convolutions with GDN between them."""
    return nn.Sequential(conv(3, N), GDN(N), conv(N, N), GDN(N), conv(N, N), GDN(N), conv(N, M))


def synthesis_transform(N: int, M: int) -> nn.Sequential:
    """g_s of figure 4: four 5×5 stride-2 transposed convolutions with IGDN between them."""
    return nn.Sequential(
        deconv(M, N),
        GDN(N, inverse=True),
        deconv(N, N),
        GDN(N, inverse=True),
        deconv(N, N),
        GDN(N, inverse=True),
        deconv(N, 3),
    )


class FactorizedPrior(CompressionModel):
    """bmshj2018-factorized: y coded with the fully factorized density."""

    family = "bmshj2018-factorized"
    stride = 16
    gain_sites = {"y": ("analysis", "synthesis")}

    def __init__(
        self, N: int = 128, M: int = 192, rate_points: int = 0, *, quality: int | None = None
    ) -> None:
        super().__init__(rate_points, quality)
        self.N, self.M = N, M
        self.analysis = analysis_transform(N, M)
        self.synthesis = synthesis_transform(N, M)
        self.entropy_y = FactorizedDensity(M)
        self.add_gains("y", M)

    def latent_shapes(self, height: int, width: int) -> list[tuple[int, ...]]:
        return [(self.M, height // 16, width // 16)]

    def forward(self, x: torch.Tensor, quality: float | torch.Tensor | None = None) -> ModelOutput:
        q = self.quality_tensor(quality, x.shape[0])
        y = self.analyze(x, q)
        y_hat, y_likelihood = self.entropy_y(y)
        x_hat = self.synthesize(y_hat, q)
        return ModelOutput(x_hat, {"y": y_likelihood}, y_hat)

    @torch.no_grad()
    def compress(
        self, x: torch.Tensor, quality: float | None = None, *, refine: int = 0
    ) -> Compressed:
        self.check_refine(refine)
        self.check_one_image(x)
        q = self.quality_tensor(quality, 1)
        y = self.analyze(x, q)
        encoder = Encoder()
        self.entropy_y.compress(encoder, y)
        return Compressed([encoder.finish()], [tuple(y.shape[1:])])

    @torch.no_grad()
    def decode_latents(
        self,
        decoders: list[Decoder],
        shapes: list[tuple[int, ...]],
        q: torch.Tensor | None,
        coding_tile: int | None = None,
    ) -> torch.Tensor:
        """ŷ: the factorized density codes y one channel at a time, never in coding tiles."""
        return self.entropy_y.decompress(decoders[0], (1, *shapes[0]))


class ScaleHyperprior(CompressionModel):
    """bmshj2018-hyperprior: z = h_a(|y|) gives the σ of a zero-mean Gaussian per element of y.

    Also the skeleton of every hyperprior model: subclasses change `hyper_input`, the
    transforms and `context`, the context model that codes y given ψ = h_s(ẑ)
    (`lic.contexts`). Outside training y is coded one coding tile at a time (`CODING_TILE`).
    """

    family = "bmshj2018-hyperprior"
    stride = 64
    gain_sites = {"y": ("analysis", "synthesis"), "z": ("hyper_analysis", "hyper_synthesis")}
    #: Tile side (z positions) of h_a and h_s outside training, and the halo each needs
    #: (`lic.models.tiling`): h_a sees ±11 positions of y (< 3 of z), h_s ±2 of z.
    hyper_tile = 16
    hyper_halos = (3, 2)

    def __init__(
        self, N: int = 128, M: int = 192, rate_points: int = 0, *, quality: int | None = None
    ) -> None:
        super().__init__(rate_points, quality)
        self.N, self.M = N, M
        self.analysis = analysis_transform(N, M)
        self.synthesis = synthesis_transform(N, M)
        self.hyper_analysis = nn.Sequential(
            conv(M, N, 3, 1), nn.ReLU(inplace=True), conv(N, N), nn.ReLU(inplace=True), conv(N, N)
        )
        self.hyper_synthesis = nn.Sequential(
            deconv(N, N),
            nn.ReLU(inplace=True),
            deconv(N, N),
            nn.ReLU(inplace=True),
            conv(N, M, 3, 1),
            nn.ReLU(inplace=True),
        )
        self.entropy_z = FactorizedDensity(N)
        self.context: Context = ScaleOnly()
        self.add_gains("y", M)
        self.add_gains("z", N)

    @property
    def refinable(self) -> bool:
        """Latent refinement needs a context whose training forward anneals (not the serial
        raster context)."""
        return self.context.anneals

    @property
    def entropy_y(self) -> GaussianConditional:
        """The Gaussian conditional the context codes y with."""
        return self.context.entropy

    def latent_shapes(self, height: int, width: int) -> list[tuple[int, ...]]:
        return [(self.M, height // 16, width // 16), (self.N, height // 64, width // 64)]

    def hyper_input(self, y: torch.Tensor) -> torch.Tensor:
        """What h_a sees: |y| here (the scales alone are modelled)."""
        return torch.abs(y)

    def hyper(
        self,
        z_hat: torch.Tensor,
        q: torch.Tensor | None,
        at: tuple[slice, slice] | None = None,
    ) -> torch.Tensor:
        """ψ = h_s(ẑ), at the y positions `at` (rows, columns; the whole grid by default).

        Outside training in float64 (coding precision, `lic.models.base`), so every (σ, μ)
        computed from it is too; the whole grid in tiles, a coding tile from ẑ widened by the
        halo h_s needs, so a tile's ψ is the whole grid's there."""

        def transform(z_hat: torch.Tensor) -> torch.Tensor:
            z_hat = z_hat if self.training else z_hat.double()
            return self.hyper_synthesis(self.inverse_gain("z", z_hat, q))

        if self.training:
            return transform(z_hat)
        step, halo = self.stride // self.y_stride, self.hyper_halos[1]
        if at is None:
            return tiled(transform, z_hat, 1, step, self.hyper_tile, halo)
        return windowed(transform, z_hat, at, step, halo)

    def _latents(
        self, x: torch.Tensor, q: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.analyze(x, q)

        def transform(y: torch.Tensor) -> torch.Tensor:
            return self.gain("z", self.hyper_analysis(self.hyper_input(y)), q)

        if self.training:
            return y, transform(y)
        step = self.stride // self.y_stride
        return y, tiled(transform, y, step, 1, self.hyper_tile, self.hyper_halos[0])

    def forward(self, x: torch.Tensor, quality: float | torch.Tensor | None = None) -> ModelOutput:
        q = self.quality_tensor(quality, x.shape[0])
        return self.forward_latents(*self._latents(x, q), q)

    def forward_latents(
        self, y: torch.Tensor, z: torch.Tensor, q: torch.Tensor | None
    ) -> ModelOutput:
        """`forward` from the latents y and z on (what `lic.refine` optimizes)."""
        z_hat, z_likelihood = self.entropy_z(z)
        if self.training:
            y_hat, y_likelihood = self.context(y, self.hyper(z_hat, q))
        else:  # exactly as coded, tile by tile
            y_hat, y_likelihood = (y.new_empty(y.shape) for _ in range(2))
            for at in coding_tiles(*y.shape[2:], CODING_TILE):
                tile = (..., *at)
                y_hat[tile], y_likelihood[tile] = self.context(y[tile], self.hyper(z_hat, q, at))
        x_hat = self.synthesize(y_hat, q)
        return ModelOutput(x_hat, {"y": y_likelihood, "z": z_likelihood}, y_hat)

    @torch.no_grad()
    def compress(
        self,
        x: torch.Tensor,
        quality: float | None = None,
        *,
        coding_tile: int = CODING_TILE,
        refine: int = 0,
    ) -> Compressed:
        """The y and z streams; y coded tile by tile (`coding_tile` latents a side), after
        `refine` steps of encoder-side latent refinement (`lic.refine`) if not 0."""
        self.check_refine(refine)
        self.check_one_image(x)
        if refine:  # refused before the analysis is spent; models do not import training code
            from lic.refine import check_refinable, refine_latents

            check_refinable(self, x, refine)
        q = self.quality_tensor(quality, 1)
        y, z = self._latents(x, q)
        if refine:
            y, z = refine_latents(self, x, y, z, q, refine)
        z_encoder, y_encoder = Encoder(), Encoder()
        z_hat = self.entropy_z.compress(z_encoder, z)
        for at in coding_tiles(*y.shape[2:], coding_tile):
            self.context.compress(y_encoder, y[(..., *at)], self.hyper(z_hat, q, at))
            release_freed_memory()
        return Compressed(
            [y_encoder.finish(), z_encoder.finish()], [tuple(y.shape[1:]), tuple(z.shape[1:])]
        )

    @torch.no_grad()
    def decode_latents(
        self,
        decoders: list[Decoder],
        shapes: list[tuple[int, ...]],
        q: torch.Tensor | None,
        coding_tile: int | None = CODING_TILE,
    ) -> torch.Tensor:
        z_hat = self.entropy_z.decompress(decoders[1], (1, *shapes[1]))
        y_hat = torch.empty(1, *shapes[0])  # float32: what the synthesis takes
        for at in coding_tiles(*shapes[0][1:], coding_tile):
            y_hat[(..., *at)] = self.context.decompress(decoders[0], self.hyper(z_hat, q, at))
            release_freed_memory()
        return y_hat


register_family(FactorizedPrior)
register_family(ScaleHyperprior)
