"""Models, one file per paper, and the registry that names them."""

from lic.models import bmshj2018
from lic.models.base import Compressed, CompressionModel, ModelOutput
from lic.models.bmshj2018 import FactorizedPrior, ScaleHyperprior
from lic.models.registry import REGISTRY, ModelSpec, get_spec, load, register

__all__ = [
    "REGISTRY",
    "Compressed",
    "CompressionModel",
    "FactorizedPrior",
    "ModelOutput",
    "ModelSpec",
    "ScaleHyperprior",
    "bmshj2018",
    "get_spec",
    "load",
    "register",
]
