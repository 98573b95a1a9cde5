"""The .lic container format."""

from lic.bitstream.container import (
    FORMAT_VERSION,
    MAGIC,
    MAX_PIXELS,
    METADATA,
    Header,
    check_image_size,
    pack,
    unpack,
)

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "MAX_PIXELS",
    "METADATA",
    "Header",
    "check_image_size",
    "pack",
    "unpack",
]
