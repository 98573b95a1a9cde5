"""He, Zheng, Sun, Wang & Qin 2021, "Checkerboard context model for efficient learned image
compression" (CVPR): the mean-scale hyperprior of Minnen et al. 2018 with the two-pass
checkerboard context (`lic.contexts.Checkerboard`, sec. 3.2) and the entropy-parameter network
of Minnen et al. 2018 (fig. 4).
"""

from __future__ import annotations

from lic.contexts import Checkerboard as CheckerboardContext
from lic.models.mbt2018 import MeanScaleHyperprior, entropy_parameters
from lic.models.registry import register_family


class Checkerboard(MeanScaleHyperprior):
    """he2021-checkerboard: two-pass checkerboard context on a mean-scale hyperprior."""

    family = "he2021-checkerboard"

    def __init__(
        self, N: int = 128, M: int = 192, rate_points: int = 0, *, quality: int | None = None
    ) -> None:
        super().__init__(N, M, rate_points, quality=quality)
        self.context = CheckerboardContext(M, entropy_parameters(M))


class CheckerboardMSSSIM(Checkerboard):
    """he2021-checkerboard-ms-ssim: the same network, trained for λ·(1 − MS-SSIM) + R (the
    field's MS-SSIM λ table, `lic.train.loss`; `lic train --metric ms-ssim`) from the MSE model's
    weights, for those who prefer structure to PSNR. Its own name, so that a file says which
    weights decode it."""

    family = "he2021-checkerboard-ms-ssim"
    metric = "ms-ssim"


register_family(Checkerboard)
register_family(CheckerboardMSSSIM)
