"""Building blocks of the analysis and synthesis transforms."""

from lic.layers.attention import AttentionBlock
from lic.layers.bounds import NonNegative, lower_bound
from lic.layers.conv import conv, deconv
from lic.layers.gain import GainUnit
from lic.layers.gdn import GDN
from lic.layers.masked import MaskedConv2d, checkerboard, context_mask
from lic.layers.masked3d import MaskedConv3d, causal_mask_3d, wavefront_times
from lic.layers.residual import (
    ResidualBlock,
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    ResidualBottleneck,
    subpixel_conv,
)
from lic.layers.signal_preserving import signal_preserving_analysis, signal_preserving_synthesis

__all__ = [
    "AttentionBlock",
    "GDN",
    "GainUnit",
    "MaskedConv2d",
    "MaskedConv3d",
    "causal_mask_3d",
    "checkerboard",
    "context_mask",
    "NonNegative",
    "ResidualBlock",
    "ResidualBlockUpsample",
    "ResidualBlockWithStride",
    "ResidualBottleneck",
    "conv",
    "deconv",
    "lower_bound",
    "signal_preserving_analysis",
    "signal_preserving_synthesis",
    "subpixel_conv",
    "wavefront_times",
]
