"""The .lic container: a self-describing header, the entropy-coded streams, a checksum.

Layout (integers little-endian; `varint` is unsigned LEB128):
  magic  b"LIC"        3 bytes
  format version       u8: 3 (1 and 2 are read too: version 3 codes the hyperprior models' y in
                       coding tiles, 1 and 2 as one grid; version 1's streams have no end
                       marks and its digest covers the weights alone, see `lic.codec`)
  model name           varint length + ASCII
  quality              f32 (an integer for fixed-rate models, continuous for variable-rate)
  digest               8 bytes: weights and coder constants (`lic.codec.header_digest`)
  width, height        varint, varint
  colour mode          u8: 1 = greyscale, 3 = RGB
  metadata (version ≥ 2) u8 count, then per item u8 kind (1 = ICC profile, 2 = EXIF, 3 = XMP,
                       each at most once) + varint length + bytes
  latent shapes        u8 count, then per shape u8 rank + varint per dimension
  stream lengths       u8 count, then varint per stream
  streams              concatenated, each ending in the coder's end mark (version ≥ 2)
  CRC-32               u32 over everything before it
Every read is bounds-checked; any inconsistency raises `LicError` with a one-line reason. A
header whose image exceeds MAX_PIXELS is refused before any image memory is allocated.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass, field

from lic.errors import LicError

MAGIC = b"LIC"
FORMAT_VERSION = 3
#: The versions this module reads.
READABLE_VERSIONS = (1, 2, 3)
MAX_SIDE = 1 << 15
MAX_PIXELS = 1 << 26  # 67 megapixels
MODES = {1: "L", 3: "RGB"}
#: Photo metadata carried through the container: kind byte → the key Pillow uses in `info`.
METADATA = {1: "icc_profile", 2: "exif", 3: "xmp"}


@dataclass
class Header:
    """Everything needed to decode a .lic file, besides the model weights themselves."""

    model: str
    quality: float
    weights_digest: bytes
    width: int
    height: int
    mode: str
    shapes: list[tuple[int, ...]]
    stream_lengths: list[int]
    version: int = FORMAT_VERSION
    #: ICC profile, EXIF and XMP of the original, by Pillow's `info` key (version 2).
    metadata: dict[str, bytes] = field(default_factory=dict)


def check_image_size(width: int, height: int) -> None:
    """Refuse sizes the codec will not allocate."""
    if width < 1 or height < 1:
        raise LicError(f"image size {width}×{height} is empty")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise LicError(
            f"image of {width}×{height} exceeds the limit of {MAX_PIXELS} pixels "
            f"({MAX_SIDE} per side)"
        )


def varint(value: int) -> bytes:
    """`value` as an unsigned LEB128 varint, as the header writes its numbers."""
    if value < 0:
        raise ValueError("varints are unsigned")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise LicError("truncated file: the header runs past its end")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def varint(self) -> int:
        value, shift = 0, 0
        while True:
            byte = self.u8()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise LicError("corrupted file: a header number is too long")


def pack(header: Header, streams: list[bytes]) -> bytes:
    """Serialize a header and its streams into the bytes of a .lic file."""
    name = header.model.encode("ascii")
    mode = {v: k for k, v in MODES.items()}[header.mode]
    out = bytearray(MAGIC + bytes([header.version]))
    out += varint(len(name)) + name
    out += struct.pack("<f", header.quality) + header.weights_digest
    out += varint(header.width) + varint(header.height) + bytes([mode])
    if header.version >= 2:
        kinds = {key: kind for kind, key in METADATA.items()}
        out.append(len(header.metadata))
        for key, value in header.metadata.items():
            out += bytes([kinds[key]]) + varint(len(value)) + value
    elif header.metadata:
        raise ValueError("format version 1 has no metadata")
    out.append(len(header.shapes))
    for shape in header.shapes:
        out.append(len(shape))
        for dim in shape:
            out += varint(dim)
    out.append(len(streams))
    for stream in streams:
        out += varint(len(stream))
    for stream in streams:
        out += stream
    out += struct.pack("<I", zlib.crc32(out))
    return bytes(out)


def unpack(data: bytes) -> tuple[Header, list[bytes]]:
    """Parse and validate a .lic file; raises LicError on anything malformed."""
    if len(data) == 0:
        raise LicError("empty file: not a .lic file")
    if not data.startswith(MAGIC):
        raise LicError("not a .lic file (bad magic bytes)")
    reader = _Reader(data)
    reader.take(len(MAGIC))
    version = reader.u8()
    if version not in READABLE_VERSIONS:
        raise LicError(
            f"unsupported .lic format version {version} "
            f"(this lic reads {', '.join(map(str, READABLE_VERSIONS))})"
        )
    try:
        name = reader.take(reader.varint()).decode("ascii")
    except UnicodeDecodeError:
        raise LicError("corrupted file: the model name is not ASCII") from None
    (quality,) = struct.unpack("<f", reader.take(4))
    if not math.isfinite(quality):
        raise LicError(f"corrupted file: quality {quality}")
    digest = reader.take(8)
    width, height = reader.varint(), reader.varint()
    check_image_size(width, height)
    mode = MODES.get(reader.u8())
    if mode is None:
        raise LicError("corrupted file: unknown colour mode")
    metadata: dict[str, bytes] = {}
    for _ in range(reader.u8() if version >= 2 else 0):
        key = METADATA.get(reader.u8())
        if key is None or key in metadata:
            raise LicError("corrupted file: unknown or repeated metadata")
        metadata[key] = reader.take(reader.varint())
    shapes = [tuple(reader.varint() for _ in range(reader.u8())) for _ in range(reader.u8())]
    lengths = [reader.varint() for _ in range(reader.u8())]
    body = sum(lengths)
    if reader.pos + body + 4 > len(data):
        raise LicError(
            f"truncated file: {len(data)} bytes where the header announces {reader.pos + body + 4}"
        )
    if reader.pos + body + 4 < len(data):
        raise LicError("corrupted file: trailing bytes after the checksum")
    streams = [reader.take(n) for n in lengths]
    (crc,) = struct.unpack("<I", reader.take(4))
    if crc != zlib.crc32(data[:-4]):
        raise LicError("corrupted file: checksum mismatch")
    header = Header(name, quality, digest, width, height, mode, shapes, lengths, version, metadata)
    return header, streams
