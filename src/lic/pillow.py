"""The Pillow plugin: `Image.open("x.lic")` decodes and `image.save("x.lic", quality=4.5)`
encodes, through `lic.api` like the command line.

Opening reads the header alone (size and mode, no torch); the model runs when the pixels are
first needed (`load()`, as for every lazily decoded Pillow format). Saving takes the keyword
arguments of `lic.compress` (`quality`, `model`, `size`, `bpp`, `psnr`, `weights`,
`metadata`); the image's ICC profile, EXIF and XMP in `info` go along.
"""

from __future__ import annotations

from typing import IO

from PIL import Image, ImageFile

from lic.bitstream import MAGIC, unpack
from lic.errors import LicError

FORMAT = "LIC"
_SAVE_OPTIONS = ("model", "quality", "size", "bpp", "psnr", "weights", "metadata")


def _accept(prefix: bytes) -> bool:
    return prefix[: len(MAGIC)] == MAGIC


class LicImageFile(ImageFile.ImageFile):
    """A .lic file as a Pillow image."""

    format = FORMAT
    format_description = "lic learned image compression"

    def _open(self) -> None:
        self._data = self.fp.read()
        try:
            header, _ = unpack(self._data)
        except LicError as error:
            raise SyntaxError(str(error)) from None
        self._size = (header.width, header.height)
        self._mode = header.mode
        self.info.update(header.metadata)
        self.tile = []

    def load(self):  # noqa: ANN201 (Pillow's signature)
        if self._data is not None:
            from lic.api import decompress

            decoded = decompress(self._data)
            self.im = decoded.im
            self._data = None
        return Image.Image.load(self)


def _save(image: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    from lic.api import compress

    options = {k: v for k, v in image.encoderinfo.items() if k in _SAVE_OPTIONS}
    fp.write(compress(image, **options))


def register() -> None:
    """Register the format, its opener and saver, and the .lic extension with Pillow."""
    Image.register_open(FORMAT, LicImageFile, _accept)
    Image.register_save(FORMAT, _save)
    Image.register_extension(FORMAT, ".lic")
    Image.register_mime(FORMAT, "image/x-lic")
