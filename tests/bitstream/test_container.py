import struct
import zlib

import pytest

from lic.bitstream import FORMAT_VERSION, Header, pack, unpack
from lic.errors import LicError


def _file() -> bytes:
    header = Header(
        "bmshj2018-hyperprior",
        3.5,
        bytes(range(8)),
        131,
        67,
        "RGB",
        [(192, 5, 9), (128, 2, 3)],
        [0, 0],
    )
    return pack(header, [b"\x01\x02\x03\x04" * 3, b"\xff" * 8])


def test_round_trip():
    header, streams = unpack(_file())
    assert header.model == "bmshj2018-hyperprior" and header.quality == 3.5
    assert (header.width, header.height, header.mode) == (131, 67, "RGB")
    assert header.shapes == [(192, 5, 9), (128, 2, 3)]
    assert streams == [b"\x01\x02\x03\x04" * 3, b"\xff" * 8]
    assert header.weights_digest == bytes(range(8))


@pytest.mark.parametrize("cut", [0, 2, 5, 20, -5, -1])
def test_truncated_files_are_refused(cut):
    with pytest.raises(LicError):
        unpack(_file()[:cut])


def test_every_flipped_byte_is_detected():
    data = _file()
    for position in range(len(data)):
        corrupted = bytearray(data)
        corrupted[position] ^= 0x10
        with pytest.raises(LicError):
            unpack(bytes(corrupted))


def test_giant_image_is_refused_even_with_a_valid_checksum():
    header = Header("m", 1.0, bytes(8), 100_000, 100_000, "RGB", [], [])
    data = pack(header, [])
    with pytest.raises(LicError, match="exceeds the limit"):
        unpack(data)


def test_not_a_lic_file():
    with pytest.raises(LicError, match="not a .lic"):
        unpack(b"\x89PNG\r\n\x1a\n" + bytes(40))
    with pytest.raises(LicError, match="empty"):
        unpack(b"")


def test_future_version_is_refused():
    data = bytearray(_file()[:-4])
    data[3] = 99
    data += struct.pack("<I", zlib.crc32(bytes(data)))
    with pytest.raises(LicError, match="version 99"):
        unpack(bytes(data))


def test_metadata_round_trips_and_version_1_has_none():
    header, streams = unpack(_file())
    header.metadata = {"icc_profile": b"icc" * 100, "exif": b"Exif\0\0", "xmp": b"<x/>"}
    again, _ = unpack(pack(header, streams))
    assert again.metadata == header.metadata and again.version == FORMAT_VERSION
    header.version = 1
    with pytest.raises(ValueError):
        pack(header, streams)
    header.metadata = {}
    old, old_streams = unpack(pack(header, streams))
    assert old.version == 1 and old.metadata == {} and old_streams == streams


@pytest.mark.parametrize("items", [b"\x01\x04\x00", b"\x02\x01\x00\x01\x00", b"\x01\x01\x05x"])
def test_unknown_or_repeated_metadata_is_refused(items):
    """(the count byte, then kind 4; kind 1 twice; a length past the end)"""
    header, streams = unpack(_file())
    data = bytearray(pack(header, streams))
    at = data.index(bytes([3, 0, 2]), 20) + 1  # colour mode RGB, no metadata, two shapes
    data[at : at + 1] = items
    data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])))
    with pytest.raises(LicError, match="metadata|truncated|corrupted"):
        unpack(bytes(data))
