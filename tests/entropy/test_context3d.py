"""The 3D context model (lic.entropy.context3d): causal in (channel, row, column) order, and
its wavefront coding loop computes the dense network's rows, decoding exactly."""

import numpy as np
import pytest
import torch

from lic.coding import Decoder, Encoder
from lic.entropy import ContextModel3d, categorical_rows
from lic.entropy.categorical import certain_rows
from lic.layers import wavefront_times

CENTRES = torch.tensor([-1.9, -0.6, 0.2, 1.1, 2.3], dtype=torch.float64)


def _model(blocks: int = 2, seed: int = 0) -> ContextModel3d:
    torch.manual_seed(seed)
    model = ContextModel3d(len(CENTRES), filters=6, blocks=blocks).eval()
    with torch.no_grad():  # larger weights than the initialization: confident, varied logits
        for p in model.parameters():
            p.mul_(3)
    return model


def _volume(shape: tuple[int, ...], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random symbols and an importance-like mask (the first n channels at each position)."""
    g = torch.Generator().manual_seed(seed)
    symbols = torch.randint(0, len(CENTRES), shape, generator=g)
    counts = torch.randint(0, shape[0] + 1, shape[1:], generator=g)
    active = torch.arange(shape[0]).view(-1, 1, 1) < counts
    return torch.where(active, symbols, 0), active


def _values(symbols: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    return torch.where(active, CENTRES[symbols], 0.0)


@pytest.mark.parametrize("blocks", [0, 2])
def test_no_symbol_sees_itself_or_a_later_one(blocks):
    """Changing the symbol at (c, i, j) and every one after it in raster order leaves the logits
    of (c, i, j) and of all before it exactly as they were; some later ones do move."""
    model = _model(blocks).double()
    shape = (4, 5, 6)
    z = _values(*_volume(shape, 0))
    with torch.no_grad():
        before = model.logits(z[None])[0].flatten(1)
        for p in (0, 17, 31, 60, 95, 119):  # channel starts, row ends, the last symbol
            changed = z.flatten().clone()
            changed[p:] = torch.randn(len(changed) - p, dtype=torch.float64) * 3
            after = model.logits(changed.view(1, *shape))[0].flatten(1)
            assert torch.equal(after[:, : p + 1], before[:, : p + 1]), p
            if p < 119:
                assert not torch.equal(after[:, p + 1 :], before[:, p + 1 :]), p


@pytest.mark.parametrize("shape", [(3, 5, 7), (1, 1, 1), (5, 2, 9)])
def test_the_wavefront_codes_the_dense_networks_rows_and_decodes_exactly(shape):
    """The encoder's loop codes each symbol under the rows of the dense float64 logits, in
    wavefront order (so its bytes equal those of coding so directly), and the decoder's loop
    gives back every symbol, zeros where masked."""
    model = _model()
    symbols, active = _volume(shape, 1)
    encoder = Encoder()
    model.compress(encoder, CENTRES, symbols, active)
    data = encoder.finish()

    with torch.no_grad():
        logits = model.logits(_values(symbols, active)[None])[0]  # float64
    order = np.argsort(wavefront_times(*shape, 3), kind="stable")
    rows = categorical_rows(logits.flatten(1).T.numpy())[order]
    rows[~active.flatten().numpy()[order]] = certain_rows(1, len(CENTRES))
    direct = Encoder()
    direct.encode_per_symbol(symbols.flatten().numpy()[order], rows, np.zeros(len(order), int))
    assert data == direct.finish()

    decoder = Decoder(data, symbols.numel())
    assert torch.equal(model.decompress(decoder, CENTRES, active), symbols)
    decoder.check_finished()


def test_masked_symbols_cost_nothing():
    model = _model()
    symbols, active = _volume((4, 6, 6), 2)
    z = _values(symbols, active)[None]
    weight = active[None].double()
    with torch.no_grad():
        p = model.likelihood(z, symbols[None], weight)
        all_coded = model.likelihood(z, symbols[None], torch.ones_like(weight))
    coded = active[None]
    assert torch.all(p[~coded] == 1) and torch.equal(p[coded], all_coded[coded])
    encoder = Encoder()
    model.compress(encoder, CENTRES, symbols, active)
    bits = float(-torch.log2(p).sum())
    assert abs(len(encoder.finish()) - bits / 8) <= 0.01 * bits / 8 + 8
