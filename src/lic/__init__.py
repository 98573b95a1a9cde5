"""lic: learned image compression with real bitstreams.

    import lic
    data = lic.compress("photo.jpg", quality=4.5)   # or a PIL image, an array, a tensor
    image = lic.decompress(data)
    lic.info(data), lic.models(), lic.load("he2021-checkerboard-vr")

`import lic` also registers the Pillow plugin: `Image.open("x.lic")` and
`image.save("x.lic", quality=4.5)` work. Everything else loads on first use, so the command
line starts without importing torch where it need not (`lic info`, `lic models`, `--help`).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from lic import pillow
from lic.errors import LicError

__version__ = "0.3.0"

#: Public names and the module each loads from on first use.
_LAZY = {
    "compress": "lic.api",
    "decompress": "lic.api",
    "info": "lic.api",
    "models": "lic.catalog",
    "load": "lic.models.registry",
}

__all__ = ["LicError", "__version__", *_LAZY]

pillow.register()


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lic' has no attribute {name!r}")
