"""What every context model shares, and the two without a context: σ alone, and (σ, μ).

A context model says how y is coded given ψ, the hyper-synthesis output at the same positions.
It has the three faces of a model, for y alone:
- `forward(y, psi)`: (ŷ as the synthesis sees it, the likelihood of every element of y). In
  training ŷ is noisy (or rounded straight-through, or soft-rounded by `lic.refine`) and the
  context runs densely; in eval mode it is exactly what coding gives, so the eval forward and
  a real file agree.
- `compress(encoder, y, psi)`: codes round(y − μ) into the encoder's stream, in the context's
  order, and returns ŷ (what the decoder will give back: contexts built on others need it).
- `decompress(decoder, psi)`: ŷ decoded from that stream, exactly the encoder's.
Outside training ψ is float64 (`lic.models.base`, coding precision), so every σ and μ a context
computes from it is too. A context codes whatever grid it is given: the hyperprior models hand
it one coding tile of y at a time (`lic.models.tiling.CODING_TILE`), so its memory is bounded.
"""

from __future__ import annotations

import torch
from torch import nn

from lic.coding import Decoder, Encoder
from lic.entropy import GaussianConditional
from lic.layers import MaskedConv2d


class Context(nn.Module):
    """A context model: y coded under Gaussians N(μ, σ²) whose parameters come from ψ."""

    #: Whether the training forward follows the entropy model's annealed rounding (its
    #: `temperature`), so that latent refinement (`lic.refine`) optimizes what is coded.
    anneals: bool = True

    def __init__(self, entropy: GaussianConditional | None = None) -> None:
        super().__init__()
        #: Shared by the contexts of one model (one set of coder tables).
        self.entropy = GaussianConditional() if entropy is None else entropy

    def forward(self, y: torch.Tensor, psi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def compress(self, encoder: Encoder, y: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decompress(self, decoder: Decoder, psi: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class ScaleOnly(Context):
    """No context, zero mean: ψ is σ (Ballé et al. 2018, eq. 9)."""

    def forward(self, y: torch.Tensor, psi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.entropy(y, psi)

    def compress(self, encoder: Encoder, y: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
        return self.entropy.compress(encoder, y, psi)

    def decompress(self, decoder: Decoder, psi: torch.Tensor) -> torch.Tensor:
        return self.entropy.decompress(decoder, psi)


class MeanScale(Context):
    """No context: ψ is (σ, μ) stacked along channels (Minnen et al. 2018, the mean-scale
    hyperprior); also the inner coder of each channel group of Minnen & Singh 2020."""

    def forward(self, y: torch.Tensor, psi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.entropy(y, *psi.chunk(2, 1))

    def compress(self, encoder: Encoder, y: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
        return self.entropy.compress(encoder, y, *psi.chunk(2, 1))

    def decompress(self, decoder: Decoder, psi: torch.Tensor) -> torch.Tensor:
        return self.entropy.decompress(decoder, *psi.chunk(2, 1))


class MaskedContext(Context):
    """A context from the decoded latents through a 5×5 masked convolution of `kind`
    (`lic.layers.masked`), fused with ψ by `entropy_parameters` (1×1 convolutions from
    [ψ, context (2·channels)] to (σ, μ)), as in Minnen et al. 2018, fig. 4.

    Args:
        channels: channels of the y this context codes.
        entropy_parameters: the fusion network.
        entropy: the Gaussian conditional to code with (shared by a model's contexts).
    """

    kind: str = ""

    def __init__(
        self,
        channels: int,
        entropy_parameters: nn.Sequential,
        entropy: GaussianConditional | None = None,
    ) -> None:
        super().__init__(entropy)
        self.channels = channels
        self.context_prediction = MaskedConv2d(channels, channels * 2, 5, kind=self.kind)
        self.entropy_parameters = entropy_parameters
