"""Models, one file per paper, and the registry that names them.

The package is also callable: `lic.models()` is `lic.api.models()`, the list of registered
models with their qualities, shipped weights and Kodak figures (the name `lic.models` is this
package once it is imported, so the list answers to it).
"""

import sys
import types

from lic.models import (
    bmshj2018,
    cheng2020,
    elic2022,
    he2021,
    hu2020,
    mbt2018,
    mentzer2018,
    minnen2020,
)
from lic.models.base import Compressed, CompressionModel, ModelOutput
from lic.models.bmshj2018 import FactorizedPrior, ScaleHyperprior
from lic.models.cheng2020 import Cheng2020Anchor, Cheng2020Attention
from lic.models.elic2022 import ELIC
from lic.models.he2021 import Checkerboard
from lic.models.hu2020 import CoarseToFine
from lic.models.mbt2018 import JointAutoregressive, MeanScaleHyperprior
from lic.models.mentzer2018 import Mentzer2018
from lic.models.minnen2020 import ChannelSlices
from lic.models.registry import REGISTRY, ModelSpec, get_spec, load, register

__all__ = [
    "REGISTRY",
    "Compressed",
    "CompressionModel",
    "FactorizedPrior",
    "JointAutoregressive",
    "ModelOutput",
    "ModelSpec",
    "ScaleHyperprior",
    "ChannelSlices",
    "Cheng2020Anchor",
    "Cheng2020Attention",
    "Checkerboard",
    "CoarseToFine",
    "ELIC",
    "MeanScaleHyperprior",
    "Mentzer2018",
    "bmshj2018",
    "cheng2020",
    "elic2022",
    "he2021",
    "hu2020",
    "mbt2018",
    "mentzer2018",
    "minnen2020",
    "get_spec",
    "load",
    "register",
]


class _CallableModule(types.ModuleType):
    def __call__(self):  # noqa: ANN204
        from lic.api import models

        return models()


sys.modules[__name__].__class__ = _CallableModule
