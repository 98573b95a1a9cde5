"""Building blocks of the analysis and synthesis transforms."""

from lic.layers.bounds import NonNegative, lower_bound
from lic.layers.conv import conv, deconv
from lic.layers.gain import GainUnit
from lic.layers.gdn import GDN
from lic.layers.masked import MaskedConv2d, checkerboard, context_mask

__all__ = [
    "GDN",
    "GainUnit",
    "MaskedConv2d",
    "checkerboard",
    "context_mask",
    "NonNegative",
    "conv",
    "deconv",
    "lower_bound",
]
