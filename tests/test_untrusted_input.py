"""Files and images from outside: crafted .lic files, changed coder constants, old files,
tampered weights, and images whose conversion the user must hear about (lic.codec)."""

import io
import json
import math
import shutil
import struct
import subprocess
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lic import weights
from lic.bitstream import Header, pack, unpack
from lic.codec import LicWarning, decode, encode, header_digest, model_for, open_image
from lic.errors import LicError
from lic.models import registry
from tests.conftest import synthetic_photo

DATA = Path(__file__).parent / "data"
CHECKERBOARD = "he2021-checkerboard-vr"  # the model the crafted files below are written for
#: Files written by lic's format version 1 (the release before end marks and coder constants
#: in the digest), with the PNG that release decoded them to.
V1_FILES = ["v1-he2021-checkerboard-vr-q2.5", "v1-bmshj2018-factorized-vr-q6-grey"]
#: Files written by format version 2 (lic 0.2.0: y coded as one grid, before coding tiles).
V2_FILES = ["v2-he2021-checkerboard-vr-q3.5-wide", "v2-bmshj2018-hyperprior-vr-q5"]


def _crafted(model, width: int, height: int, quality: float, streams: list[bytes]) -> bytes:
    """A file with a valid header (digest, shapes) for `model` and the given streams."""
    stride = model.stride
    shapes = model.latent_shapes(height + -height % stride, width + -width % stride)
    header = Header(
        model.name,
        quality,
        header_digest(model),
        width,
        height,
        "RGB",
        shapes,
        [len(s) for s in streams],
    )
    return pack(header, streams)


@pytest.mark.parametrize("width,height", [(4096, 3072), (8192, 8192)])
def test_a_file_claiming_a_big_image_with_empty_streams_is_refused_at_once(tmp_path, width, height):
    """Measured in a child: exit 1, one line, within seconds, without the image's memory (a
    4096×3072 synthesis alone takes over 1 GB; the decoder never gets there)."""
    model, quality = model_for(CHECKERBOARD, 4.0)
    path = tmp_path / "crafted.lic"
    path.write_bytes(_crafted(model, width, height, quality, [b"", b""]))
    child = (  # VmHWM: this process's peak RSS since exec (ru_maxrss would count the fork's)
        "import re, sys; from lic.cli import main; code = main(['decompress', sys.argv[1], "
        "'-o', sys.argv[2]]); print(re.search(r'VmHWM:\\s+(\\d+)', "
        "open('/proc/self/status').read())[1]); sys.exit(code)"
    )
    start = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-c", child, str(path), str(tmp_path / "out.png")],
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - start
    assert run.returncode == 1
    assert run.stderr == "lic: error: corrupted file: a stream ends before its symbols do\n"
    assert seconds < 20 and int(run.stdout) < 800_000  # kB: torch and the model, no image
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("name", [CHECKERBOARD, "bmshj2018-factorized-vr"])
def test_every_stream_cut_short_is_refused_before_the_synthesis(name, monkeypatch):
    model, quality = model_for(name, 3.0)
    data = encode(model, Image.fromarray(synthetic_photo(64, 96)), quality)
    header, streams = unpack(data)
    monkeypatch.setattr(model, "synthesize", lambda *_: pytest.fail("synthesis ran"))
    for i, stream in enumerate(streams):
        for keep in (0, len(stream) // 2 // 4 * 4, len(stream) - 4):
            cut = [s[:keep] if j == i else s for j, s in enumerate(streams)]
            header.stream_lengths = [len(s) for s in cut]
            with pytest.raises(LicError, match="ends before|corrupted stream|left after"):
                decode(pack(header, cut), model)


BAD_QUALITIES = [math.nan, math.inf, -math.inf, 9.0, -1.0]


@pytest.mark.parametrize(
    "name,quality",
    [(CHECKERBOARD, q) for q in BAD_QUALITIES]
    + [("he2021-checkerboard", q) for q in [*BAD_QUALITIES, 2.5]],
)
def test_a_quality_outside_the_models_range_is_refused(name, quality):
    """Fixed-rate (integer qualities 1–4 folded from the shipped -vr weights) and variable-rate
    (0–8): NaN, ±inf, out of range, and a fraction for a fixed-rate model."""
    data = _crafted(model_for(CHECKERBOARD, 4.0)[0], 64, 64, 4.0, [b"", b""])
    header, streams = unpack(data)
    header.model, header.quality = name, quality
    with pytest.raises(LicError, match="qualit"):
        decode(pack(header, streams))


@pytest.mark.parametrize("stem", V1_FILES + V2_FILES)
def test_files_of_older_format_versions_decode_to_the_same_pixels(stem):
    """Written by lic 0.1 (version 1) and 0.2.0 (version 2, y as one grid: the wide file's
    y spans two coding tiles of version 3) with today's weights (tests/data/make_old_files.py)."""
    data = (DATA / f"{stem}.lic").read_bytes()
    assert data[3] == int(stem[1])
    decoded = decode(data)
    expected = Image.open(DATA / f"{stem}.png")
    assert decoded.mode == expected.mode
    assert np.array_equal(np.asarray(decoded), np.asarray(expected))


def test_a_changed_coder_constant_refuses_old_and_new_files(monkeypatch):
    """The scale table's lower bound decides every Gaussian table: with it changed, a file of
    either version is refused instead of decoded with other tables."""
    model, quality = model_for(CHECKERBOARD, 2.5)
    new = encode(model, Image.fromarray(synthetic_photo(48, 72, seed=3)), quality)
    old = (DATA / f"{V1_FILES[0]}.lic").read_bytes()
    decode(new), decode(old)
    monkeypatch.setattr(model.entropy_y, "scale_bound", 0.12)
    with pytest.raises(LicError, match="written with weights"):
        decode(new)
    with pytest.raises(LicError, match="format version 1 file"):
        decode(old)
    monkeypatch.undo()
    monkeypatch.setattr("lic.codec.CODER_CONSTANTS", "range coder: escape bits 31, chunk 16")
    with pytest.raises(LicError, match="written with weights"):
        decode(new)
    with pytest.raises(LicError, match="format version 1 file"):
        decode(old)


@pytest.fixture
def weights_copy(tmp_path, monkeypatch) -> Path:
    """The shipped weights folder as a copy that a test may tamper with."""
    name = "bmshj2018-factorized-vr"
    for suffix in (".safetensors", ".json"):
        shutil.copy(weights.WEIGHTS_DIR / f"{name}{suffix}", tmp_path / f"{name}{suffix}")
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    return tmp_path / f"{name}.safetensors"


def test_untouched_weights_load(weights_copy):
    registry.load("bmshj2018-factorized-vr")


def test_tampered_weights_are_refused_naming_the_file(weights_copy):
    data = bytearray(weights_copy.read_bytes())
    (header_size,) = struct.unpack("<Q", data[:8])
    data[8 + header_size + 1000] ^= 0x40  # one bit of one weight
    weights_copy.write_bytes(bytes(data))
    with pytest.raises(LicError, match=f"weights {weights_copy} do not match the digest"):
        registry.load("bmshj2018-factorized-vr")


def test_truncated_weights_are_refused_naming_the_file(weights_copy):
    weights_copy.write_bytes(weights_copy.read_bytes()[:-4096])
    with pytest.raises(LicError, match=f"cannot read weights {weights_copy}"):
        registry.load("bmshj2018-factorized-vr")


def test_substituted_weights_are_refused(weights_copy, tmp_path):
    """The same architecture's weights, another set: every tensor fits, the digest does not."""
    model = registry.load("bmshj2018-factorized-vr")
    with __import__("torch").no_grad():
        model.synthesis[0].weight.mul_(1.01)
    registry.save_weights(model, weights_copy)
    with pytest.raises(LicError, match="do not match the digest"):
        registry.load("bmshj2018-factorized-vr")


def test_given_weights_are_checked_against_a_card_beside_them(weights_copy, tmp_path):
    other = tmp_path / "mine.safetensors"
    shutil.copy(weights_copy, other)
    registry.load("bmshj2018-factorized-vr", weights=other)  # no card: nothing to check
    card = json.loads(weights_copy.with_suffix(".json").read_text())
    card["weights_digest"] = "0" * 16
    other.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(LicError, match="mine.json"):
        registry.load("bmshj2018-factorized-vr", weights=other)


def _warnings_of(image: Image.Image) -> list[str]:
    model, quality = model_for("bmshj2018-factorized-vr", 4.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encode(model, image, quality)
    return [str(w.message) for w in caught if issubclass(w.category, LicWarning)]


def _saved(image: Image.Image, fmt: str, **options) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return open_image(buffer.getvalue())


def _png_16_bit_rgb(array: np.ndarray) -> bytes:
    """A 16-bit RGB PNG written by hand (Pillow writes none)."""
    height, width, _ = array.shape
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in array)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_warnings_tell_the_truth():
    photo = synthetic_photo(32, 48)
    assert _warnings_of(Image.fromarray(photo)) == []
    lab = Image.fromarray(photo).convert("LAB")
    assert _warnings_of(lab) == ["LAB image converted to RGB"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        deep = open_image(_png_16_bit_rgb(photo.astype(np.uint16) * 257))
    assert [str(w.message) for w in caught] == ["16-bit image reduced to 8 bits per sample"]
    assert np.array_equal(np.asarray(deep), photo)
    frames = [Image.fromarray(photo), Image.fromarray(255 - photo)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _saved(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert [str(w.message) for w in caught] == ["the input has 2 frames: only the first is coded"]


def test_an_image_beyond_the_size_limit_is_refused_before_it_is_decoded():
    """A decompression bomb: a small PNG whose header claims 9000×9000 pixels."""
    buffer = io.BytesIO()
    Image.new("L", (9000, 9000)).save(buffer, "PNG")
    assert len(buffer.getvalue()) < 200_000
    with pytest.raises(LicError, match="exceeds the limit"):
        open_image(buffer.getvalue())
