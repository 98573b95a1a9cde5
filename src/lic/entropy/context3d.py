"""The 3D context model of Mentzer et al. 2018 ("Conditional probability models for deep image
compression", CVPR, sec. 3.2): every symbol of a quantized volume under a categorical predicted
from the symbols before it.

The latent ẑ [C, H, W] (each element one of L centres, `lic.entropy.centres`) is taken in raster
order over (channel, row, column), and its probability factorized as
  p(ẑ) = Π_i p(ẑ_i | ẑ_(i−1), …, ẑ_1),
each factor a categorical over the L centres whose logits P(ẑ)_i a network P of masked 3D
convolutions computes from ẑ_1 … ẑ_(i−1) alone (`lic.layers.masked3d`): all factors at once in
training, like a PixelCNN. The cross-entropy Σ_i −log₂ p(ẑ_i | …) is the rate estimate; P learns
by minimizing it (sec. 3.3). lic's P (the paper's fig. 3, its layers not in the seed's notes):
  h = ReLU(A(ẑ)),  h ← h + B₂(ReLU(B₁(h))) per residual block,  logits = B_out(h),
A a k×k×k convolution with mask A to `filters` channels, the B's with mask B (paper: k = 3,
24 filters), B_out to L channels. A `weight` per symbol (the importance mask of
`lic.models.mentzer2018`) scales its cost: weight 0 costs nothing.

Coding visits the volume in wavefronts (`lic.layers.masked3d.wavefront_times`): the positions of
one wavefront depend on none of each other, so each step computes every layer at those positions
alone (the last only where a symbol is coded), from its kept taps (a gather and one matrix
product a layer) over what earlier steps computed, then codes or decodes their symbols:
4(C − 1) + 2(H − 1) + W steps for k = 3, not C·H·W, and no convolution over the whole volume. The
encoder runs the same loop as the decoder (the same operations on the same data: the same
float64 logits), and the logits become integer rows by `lic.entropy.categorical` (snapped, exact
exp), so the rows also agree across machines. Symbols the weight masks out (weight 0) are coded
as all but certain zeros (~1e-6 bit each), which keeps a stream's symbol count the volume's.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lic.coding import Decoder, Encoder, TableSet
from lic.coding.persymbol import PRECISION
from lic.entropy.base import EntropyModel
from lic.entropy.categorical import EXP_FLOOR, LOGIT_STEP, categorical_rows, certain_rows
from lic.errors import LicError
from lic.layers.masked3d import MaskedConv3d, wavefront_times


class ContextNetwork(nn.Module):
    """P: masked 3D convolutions from a volume [B, 1, C, H, W] to logits [B, L, C, H, W]
    (module docstring).

    Args:
        symbols: L, the logits per position.
        filters: channels of the hidden layers.
        blocks: residual blocks after the first layer.
        kernel_size: k.
    """

    def __init__(self, symbols: int, filters: int = 24, blocks: int = 1, kernel_size: int = 3):
        super().__init__()
        self.first = MaskedConv3d(1, filters, kernel_size, "A")
        self.blocks = nn.ModuleList(
            nn.ModuleList(MaskedConv3d(filters, filters, kernel_size, "B") for _ in range(2))
            for _ in range(blocks)
        )
        self.last = MaskedConv3d(filters, symbols, kernel_size, "B")

    def forward(self, z_hat: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.first(z_hat))
        for inner, outer in self.blocks:
            h = h + outer(F.relu(inner(h)))
        return self.last(h)


class ContextModel3d(EntropyModel):
    """The symbols of a volume under P's categoricals (module docstring).

    Args:
        symbols: L, the number of centres.
        filters, blocks, kernel_size: P's (`ContextNetwork`).
    """

    def __init__(self, symbols: int, filters: int = 24, blocks: int = 1, kernel_size: int = 3):
        super().__init__()
        self.symbols = symbols
        self.kernel_size = kernel_size
        self.network = ContextNetwork(symbols, filters, blocks, kernel_size)

    def logits(self, z_hat: torch.Tensor, frozen: bool = False) -> torch.Tensor:
        """P's logits [B, L, C, H, W] of volumes [B, C, H, W], all positions at once; `frozen`:
        with P's parameters detached (the rate as the encoder sees it, which trains P not)."""
        if not frozen:
            return self.network(z_hat.unsqueeze(1))
        detached = {name: p.detach() for name, p in self.network.named_parameters()}
        return torch.func.functional_call(self.network, detached, (z_hat.unsqueeze(1),))

    def likelihood(
        self,
        z_hat: torch.Tensor,
        symbols: torch.Tensor,
        weight: torch.Tensor,
        frozen: bool = False,
    ) -> torch.Tensor:
        """p(ẑ_i | ẑ_(<i))^(weight_i) of every element of volumes [B, C, H, W]: `symbols` the
        centres' indices, `weight` in [0, 1] (0: not coded, likelihood 1). float32 in training
        (autocast off), in z_hat's float64 outside."""
        with torch.autocast(z_hat.device.type, enabled=False):
            z_hat = z_hat if z_hat.dtype == torch.float64 else z_hat.float()
            log_p = torch.log_softmax(self.logits(z_hat, frozen), dim=1)
            log_p = log_p.gather(1, symbols.unsqueeze(1)).squeeze(1)
            return self.lower_bound_likelihood(log_p.exp()) ** weight.to(log_p.dtype)

    def coder_constants(self) -> str:
        return (
            f"{type(self).__name__}: {self.symbols} symbols, kernel {self.kernel_size}, "
            f"logit step {LOGIT_STEP!r}, exp floor {EXP_FLOOR!r}, precision {PRECISION}, "
            "wavefront order"
        )

    def build_tables(self) -> TableSet:
        """None to build: every symbol's row is built as it is coded."""
        return TableSet(np.zeros((0, 2)), np.zeros(0), np.zeros(0))

    def compress(
        self, encoder: Encoder, centres: torch.Tensor, symbols: torch.Tensor, active: torch.Tensor
    ) -> None:
        """Code the symbols [C, H, W] (long) of a volume whose elements are `centres`[symbols]
        where `active` (bool [C, H, W]) and 0 elsewhere."""
        self.serial(centres, active, symbols=symbols, encoder=encoder)

    def decompress(
        self, decoder: Decoder, centres: torch.Tensor, active: torch.Tensor
    ) -> torch.Tensor:
        """The symbols [C, H, W] (long; 0 where not `active`) coded by `compress`."""
        return self.serial(centres, active, decoder=decoder)

    @torch.no_grad()
    def serial(
        self,
        centres: torch.Tensor,
        active: torch.Tensor,
        symbols: torch.Tensor | None = None,
        encoder: Encoder | None = None,
        decoder: Decoder | None = None,
    ) -> torch.Tensor:
        """Visit the volume wavefront by wavefront (module docstring): P at the wavefront's
        positions from what was decoded before, the rows, then code (`symbols` into `encoder`)
        or decode (from `decoder`) there. Returns the symbols [C, H, W], 0 where not active."""
        net = self.network
        r = self.kernel_size // 2
        channels, height, width = active.shape
        padded = (channels + 2 * r, height + 2 * r, width + 2 * r)
        strides = (padded[1] * padded[2], padded[2], 1)
        size = padded[0] * strides[0]
        dtype = torch.float64  # coding precision (lic.entropy.categorical)

        times = wavefront_times(channels, height, width, self.kernel_size)
        order = np.argsort(times, kind="stable")  # raster order within a wavefront
        stops = np.cumsum(np.bincount(times)).tolist()
        c, i, j = np.unravel_index(order, active.shape)
        positions = torch.from_numpy(((c + r) * padded[1] + i + r) * padded[2] + j + r)
        live = active.cpu().numpy().ravel()[order]
        coded = np.zeros(len(order), dtype=np.int64)
        if symbols is not None:
            coded = np.where(live, symbols.cpu().numpy().ravel()[order], 0)
        values = centres.to(dtype)
        certain = certain_rows(1, self.symbols)

        # Features are stored position-major [padded volume, channels], so a layer at P
        # positions gathers P·T rows and multiplies them by its tap-major matrix.
        first, last = _taps(net.first, strides, dtype), _taps(net.last, strides, dtype)
        blocks = [[_taps(m, strides, dtype) for m in block] for block in net.blocks]
        volume = torch.zeros(size, 1, dtype=dtype)  # ẑ, padded with zeros
        features = torch.zeros(size, net.first.out_channels, dtype=dtype)  # ReLU(A(ẑ))
        hidden = [  # per block: ReLU(B₁(h)) and h after the block
            (torch.zeros_like(features), torch.zeros_like(features)) for _ in net.blocks
        ]
        start = 0
        for stop in stops:
            if stop == start:
                continue
            where = positions[start:stop]
            h = F.relu(_at(first, volume, where))
            features[where] = h
            source = features
            for (inner, outer), (middle, after) in zip(blocks, hidden):
                middle[where] = F.relu(_at(inner, source, where))
                h = h + _at(outer, middle, where)
                after[where] = h
                source = after
            here = live[start:stop]
            rows = certain.repeat(stop - start, axis=0)
            if here.any():  # the logits of the coded symbols alone
                logits = _at(last, source, where[torch.from_numpy(here)])
                rows[here] = categorical_rows(logits.numpy())
            zeros = np.zeros(stop - start, dtype=np.int64)
            if decoder is not None:
                decoded = decoder.decode_per_symbol(rows, zeros)
                if decoded.min() < 0 or decoded.max() >= self.symbols:
                    raise LicError("corrupted stream: a symbol outside the centres")
                coded[start:stop] = np.where(here, decoded, 0)
            elif encoder is not None:
                encoder.encode_per_symbol(coded[start:stop], rows, zeros)
            picked = torch.from_numpy(coded[start:stop])
            volume[where, 0] = torch.where(torch.from_numpy(here), values[picked], 0.0)
            start = stop
        result = np.empty_like(coded)
        result[order] = coded
        return torch.from_numpy(result.reshape(active.shape))


def _taps(
    layer: MaskedConv3d, strides: tuple[int, int, int], dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(W [T·in, out], b [out], offsets [T]) of `layer` for position-major features: its kept
    taps' weights tap-major, and their flat offsets in a volume laid out with `strides`."""
    weight, bias = layer.tap_matrix(dtype)
    offsets = layer.tap_offsets(strides)
    weight = weight.view(len(weight), -1, len(offsets)).transpose(1, 2).flatten(1)
    return weight.T.contiguous(), bias, offsets


def _at(
    taps: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    source: torch.Tensor,
    where: torch.Tensor,
) -> torch.Tensor:
    """A layer's output [P, out] at the flat positions `where` of the position-major features
    `source` [positions, in] (`taps` from `_taps`): one gather, one matrix product."""
    weight, bias, offsets = taps
    columns = source.index_select(0, (where[:, None] + offsets).flatten())
    return torch.addmm(bias, columns.view(len(where), -1), weight)
