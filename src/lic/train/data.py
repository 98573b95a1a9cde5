"""Training data: photos decoded once into memory, random crops and flips drawn from them.

Decoding a JPEG per step would starve a CPU step; instead every photo is decoded and, when
large, downscaled once (box filter, shorter side at most `max_short_side`: the training photos
are 1–5 MP wallpapers while Kodak is 768×512), and batches are random crops of those arrays
drawn with a seeded torch.Generator, whose state is part of the checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lic.errors import LicError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".ppm"}


def image_files(folder: str | Path) -> list[Path]:
    """The image files of `folder`, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LicError(f"{folder} is not a folder")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_photo(path: Path, max_short_side: int | None) -> np.ndarray:
    """An RGB uint8 array [H, W, 3], downscaled so its shorter side is at most max_short_side."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        short = min(image.size)
        if max_short_side and short > max_short_side:
            factor = max_short_side / short
            size = (round(image.width * factor), round(image.height * factor))
            image = image.resize(size, Image.Resampling.BOX)
        return np.array(image, dtype=np.uint8)


class CropSampler:
    """Random crop×crop patches (with horizontal/vertical flips) from photos held in memory."""

    def __init__(
        self,
        photos: list[np.ndarray],
        crop: int,
        seed: int = 0,
    ) -> None:
        self.crop = crop
        self.photos = [torch.from_numpy(p) for p in photos if min(p.shape[:2]) >= crop]
        self.skipped = len(photos) - len(self.photos)
        if not self.photos:
            raise LicError(f"no training image is at least {crop}×{crop}")
        self.generator = torch.Generator().manual_seed(seed)

    @classmethod
    def from_folder(
        cls, files: list[Path], crop: int, seed: int = 0, max_short_side: int | None = 768
    ) -> CropSampler:
        return cls([load_photo(f, max_short_side) for f in files], crop, seed)

    def batch(self, size: int) -> torch.Tensor:
        """A float batch [size, 3, crop, crop] in [0, 1], channels_last."""
        g, c = self.generator, self.crop
        crops = []
        for _ in range(size):
            photo = self.photos[int(torch.randint(len(self.photos), (1,), generator=g))]
            top = int(torch.randint(photo.shape[0] - c + 1, (1,), generator=g))
            left = int(torch.randint(photo.shape[1] - c + 1, (1,), generator=g))
            patch = photo[top : top + c, left : left + c]
            flips = torch.randint(2, (2,), generator=g).tolist()
            if flips[0]:
                patch = patch.flip(1)
            if flips[1]:
                patch = patch.flip(0)
            crops.append(patch)
        x = torch.stack(crops).permute(0, 3, 1, 2).float().div_(255)
        return x.contiguous(memory_format=torch.channels_last)
