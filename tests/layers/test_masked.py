import pytest
import torch

from lic.layers import MaskedConv2d, checkerboard


@pytest.mark.parametrize("kind", ["raster", "checkerboard"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_convolution_at_chosen_positions_equals_the_dense_one_there(kind, dtype):
    torch.manual_seed(0)
    layer = MaskedConv2d(6, 10, 5, kind)
    x = torch.randn(2, 6, 7, 9, dtype=dtype)
    positions = checkerboard(7, 9, anchor=False).flatten().nonzero().squeeze(1)
    with torch.no_grad():
        dense = layer(x).flatten(2)[:, :, positions]
        sparse = layer.at(x, positions)
    assert sparse.dtype == dtype and sparse.shape == dense.shape
    tolerance = 1e-12 if dtype == torch.float64 else 1e-5
    assert torch.allclose(sparse, dense, rtol=0, atol=tolerance)
