"""Context models: how y is coded given the hyper-synthesis output ψ, one place each.

A hyperprior model is transforms + hyperprior + one of these (`lic.contexts.base` says what a
context does): `ScaleOnly` and `MeanScale` (no context), `Checkerboard` (He et al. 2021),
`Raster` (Minnen et al. 2018), and the channel-conditional ones, `Slices` (Minnen & Singh
2020) and `SpaceChannel` (ELIC, He et al. 2022: channel groups with a checkerboard in each).
"""

from lic.contexts.base import Context, MaskedContext, MeanScale, ScaleOnly
from lic.contexts.channels import ChannelGroups, Slices, SpaceChannel, channel_ramp, elic_groups
from lic.contexts.checkerboard import Checkerboard
from lic.contexts.raster import Raster

__all__ = [
    "ChannelGroups",
    "Checkerboard",
    "Context",
    "MaskedContext",
    "MeanScale",
    "Raster",
    "ScaleOnly",
    "Slices",
    "SpaceChannel",
    "channel_ramp",
    "elic_groups",
]
