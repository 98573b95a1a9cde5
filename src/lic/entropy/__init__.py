"""Entropy models: likelihoods for training, symbols and coder tables for compression."""

from lic.entropy.base import EntropyModel, quantize, round_straight_through
from lic.entropy.factorized import FactorizedDensity
from lic.entropy.gaussian import GaussianConditional, default_scale_table
from lic.entropy.mixture import GaussianMixtureConditional

__all__ = [
    "EntropyModel",
    "FactorizedDensity",
    "GaussianConditional",
    "GaussianMixtureConditional",
    "default_scale_table",
    "quantize",
    "round_straight_through",
]
