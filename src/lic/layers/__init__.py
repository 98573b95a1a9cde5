"""Building blocks of the analysis and synthesis transforms."""

from lic.layers.bounds import NonNegative, lower_bound
from lic.layers.conv import conv, deconv
from lic.layers.gain import GainUnit
from lic.layers.gdn import GDN

__all__ = ["GDN", "GainUnit", "NonNegative", "conv", "deconv", "lower_bound"]
