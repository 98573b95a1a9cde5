"""Masked 3D convolutions (lic.layers.masked3d): the masks keep exactly the earlier positions,
and the wavefront time orders every kept tap before its output."""

import itertools

import numpy as np
import pytest
import torch

from lic.layers import MaskedConv3d, causal_mask_3d, wavefront_times


@pytest.mark.parametrize("kernel_size", [1, 3, 5])
@pytest.mark.parametrize("kind", ["A", "B"])
def test_the_mask_keeps_the_offsets_before_the_centre_in_raster_order(kernel_size, kind):
    r = kernel_size // 2
    mask = causal_mask_3d(kernel_size, kind)
    for offset in itertools.product(range(-r, r + 1), repeat=3):
        # Python compares tuples lexicographically: (channel, row, column) raster order.
        kept = offset < (0, 0, 0) or (kind == "B" and offset == (0, 0, 0))
        assert bool(mask[tuple(o + r for o in offset)]) == kept, offset


@pytest.mark.parametrize("kernel_size", [3, 5])
def test_every_kept_tap_lies_at_an_earlier_wavefront_time(kernel_size):
    channels, height, width = 4, 6, 7
    r = kernel_size // 2
    times = wavefront_times(channels, height, width, kernel_size).reshape(channels, height, width)
    mask = causal_mask_3d(kernel_size, "A")
    for (c, i, j), (dc, di, dj) in itertools.product(
        np.ndindex(channels, height, width), (mask > 0).nonzero().tolist()
    ):
        source = (c + dc - r, i + di - r, j + dj - r)
        if all(0 <= s < n for s, n in zip(source, (channels, height, width))):
            assert times[source] < times[c, i, j]


def test_the_tap_matrix_at_the_tap_offsets_is_the_dense_convolution():
    torch.manual_seed(0)
    layer = MaskedConv3d(3, 5, 3, "B").double()
    x = torch.randn(1, 3, 4, 5, 6, dtype=torch.float64)
    padded = torch.nn.functional.pad(x, (1,) * 6)[0].flatten(1)  # [3, 6·7·8]
    strides = (7 * 8, 8, 1)
    weight, bias, offsets = (*layer.tap_matrix(torch.float64), layer.tap_offsets(strides))
    c, i, j = (t.flatten() for t in torch.meshgrid(*map(torch.arange, (4, 5, 6)), indexing="ij"))
    where = (c + 1) * strides[0] + (i + 1) * strides[1] + j + 1
    columns = padded[:, where[None, :] + offsets[:, None]].flatten(0, 1)
    with torch.no_grad():
        dense = layer(x)[0].flatten(1)
        assert torch.allclose(weight @ columns + bias[:, None], dense, rtol=0, atol=1e-12)
