"""Entropy models: likelihoods for training, symbols and coder tables for compression."""

from lic.entropy.base import EntropyModel, quantize, round_straight_through, soft_round
from lic.entropy.categorical import MarkovCategorical, categorical_rows
from lic.entropy.centres import CentreQuantizer
from lic.entropy.context3d import ContextModel3d
from lic.entropy.factorized import FactorizedDensity
from lic.entropy.gaussian import GaussianConditional, default_scale_table
from lic.entropy.mixture import GaussianMixtureConditional

__all__ = [
    "CentreQuantizer",
    "ContextModel3d",
    "EntropyModel",
    "FactorizedDensity",
    "GaussianConditional",
    "GaussianMixtureConditional",
    "MarkovCategorical",
    "categorical_rows",
    "default_scale_table",
    "quantize",
    "round_straight_through",
    "soft_round",
]
