"""Fuzz the .lic decoder: every mutated file must decode to an image or raise `LicError`.

    python benchmarks/fuzz.py --seconds 60                 # all models with shipped weights
    python benchmarks/fuzz.py --models he2021-checkerboard-vr --count 20000 --state fuzz.json
    python benchmarks/fuzz.py --state fuzz.json --count 20000   # resumes where it stopped
    python benchmarks/fuzz.py --replay runs/fuzz/failures/exception-000001234.lic

Seeds. At start, small synthetic images (64×48 and 80×64, greyscale and RGB, drawn from
`--seed`; the RGB ones carry an ICC profile, EXIF and XMP) are encoded with
`lic.codec.encode` by every chosen model at two qualities (a variable-rate model's lowest and
5.5; a fixed-rate model's lowest and highest available), and each seed is
checked to decode. Decoding one takes tens of milliseconds.

Cases. Case i is a pure function of (`--seed`, i, the seeds), so `--start`/`--count` and
`--state` resume a run exactly. Cases come in pairs, 2p and 2p + 1, which apply the same
mutation (drawn from a generator seeded with `--seed` and p) to a seed's bytes before its
CRC-32, then append the seed's original CRC ("kept": the checksum must catch it) or a
recomputed one ("fixed": everything after the checksum must). One pair in TRUNCATE_EVERY is a
truncation, enumerated rather than drawn: truncation j takes seed j mod #seeds and the k-th
length (k = j div #seeds) of a fixed shuffle of all its lengths, so a long run cuts every seed
at every length, and a short one already at lengths spread over the whole file. The other
pairs draw a family:
  bitflip, overwrite, insert, delete   bytes, half of the positions inside the header;
  splice                               the head of one seed on the tail of another (at the
                                       streams' start, at one offset, at random), or a chunk of
                                       one inserted into or written over another;
  streams                              streams swapped, taken from another seed or model,
                                       emptied, dropped, duplicated, cut, extended, zeroed,
                                       and re-packed with `lic.bitstream.pack`;
  header                               one or two fields set to extremes through `pack`:
                                       version, model name (every registered name, the
                                       fixed-rate twin with odd qualities), name length, quality
                                       (0, ±1, NaN, ±inf, NaN payloads, f32 limits), digest,
                                       width, height (0, 1, the limits, 2³¹, 2⁶⁴ − 1, the
                                       longest varint the reader takes, one longer), an extreme
                                       image size with latent shapes that match it, colour mode,
                                       shape count/rank/dimensions, stream count and lengths;
  identity                             the seed as is (a control: it must decode).
Fields `pack` cannot express are edited in the packed bytes: the mode byte and raw quality
bits where two packings of the header with different values differ, a name length before the
name, the stream count and lengths before the streams, the version after the magic; so the
harness follows the format's layout (version 2 and after) rather than restating it. A quarter
of the pairs decode with the seed's model passed in (`decode(data, model)`), the rest with the
model named in the header, as `lic decompress` does.

Isolation. Cases run in worker processes forked from this one once the models are loaded and
their caches warm (so a fresh worker costs milliseconds), each decoding case after case under
RLIMIT_AS (`--memory-gib`) with one torch thread. The parent sends a case, waits at most
`--timeout` seconds for the answer, and otherwise kills the worker ("hang") and forks a new
one for the next case; a worker that dies is a "crash" (a signal or an exit status), or "oom"
when it was SIGKILLed by someone else than the harness (the kernel's OOM killer).

Outcomes: error (LicError: the designed answer), decoded (an image of the header's size and
mode; any other result is an "exception" of type WrongImage), exception (any other exception:
type, message and the innermost lic frame), crash, hang, oom (MemoryError, or killed for
memory). The first `--keep` cases of each distinct non-error outcome are written to
`--failures` as CASE.lic beside CASE.json (the case, the outcome, the traceback), and
`--replay` decodes them again in a worker under the same limits. The exit status is 1 if this
run saw anything but error and decoded, 2 if the seeds could not be made.
"""

from __future__ import annotations

import argparse
import dataclasses
import faulthandler
import itertools
import json
import multiprocessing
import multiprocessing.connection
import random
import re
import resource
import signal
import struct
import sys
import time
import traceback
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from lic.bitstream.container import MAX_PIXELS, Header, pack, unpack, varint
from lic.codec import decode, encode, model_for
from lic.errors import LicError
from lic.models.registry import REGISTRY, folded, get_spec, shipped

OUTCOMES = ("error", "decoded", "exception", "crash", "hang", "oom")
GOOD = ("error", "decoded")
#: One pair of cases in this many is a truncation (enumerated, see the module docstring).
TRUNCATE_EVERY = 8
#: The share of pairs that decode with the seed's model passed in instead of the header's.
GIVEN_SHARE = 0.25
FAMILIES = {
    "bitflip": 20,
    "overwrite": 12,
    "insert": 8,
    "delete": 8,
    "splice": 10,
    "streams": 14,
    "header": 26,
    "identity": 2,
}
SEED_SIZES = ((64, 48), (80, 64))
SEED_MODES = ("RGB", "L")
#: A variable-rate seed's second quality (the first is the model's lowest).
SEED_QUALITY = 5.5

#: The largest value the reader takes: ten LEB128 bytes. One more is a varint too long.
VARINT_MAX = (1 << 70) - 1
BIG = [2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**63, 2**64 - 1, VARINT_MAX, VARINT_MAX + 1]
#: The limit per side of an image (README, "The .lic format").
SIDE = 1 << 15
SIDES = [0, 1, 2, 15, 16, 17, 63, 64, 65, 8191, 8192, SIDE - 1, SIDE, SIDE + 1]
DIMS = [0, 1, 2, 3, 127, 128, 255, 256, 65535, 65536]
F32_MAX = float(np.finfo(np.float32).max)
F32_TINY = float(np.finfo(np.float32).smallest_subnormal)
QUALITIES = [
    *map(float, ("nan", "inf", "-inf", "0", "-0", "0.5", "1", "-1", "4", "8", "9", "1e30")),
    float(np.nextafter(np.float32(8), np.float32(9))),
    F32_MAX,
    -F32_MAX,
    F32_TINY,
]
#: Raw f32 bit patterns: NaNs with payloads and signs, infinities, the largest finite.
QUALITY_BITS = [0x7FC00001, 0xFFC00000, 0x7F800001, 0xFFFFFFFF, 0x7F800000, 0x7F7FFFFF]
#: Image sizes whose latent shapes are made to match, to reach the decoder with a huge claim.
SIZES = [(1, 1), (1, 2), (17, 1), (SIDE, 1), (1, SIDE), (1000, 1000), (4096, 4096)]
SIZES += [(8192, 8192), (SIDE, MAX_PIXELS // SIDE), (SIDE, SIDE)]
INTERESTING_BYTES = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x40, 0x03]
VERSIONS = [0, 1, 2, 3, 4, 0x7F, 0x80, 0xFF]
STREAM_KINDS = "swap other empty drop extra duplicate cut extend zero all-empty".split()


def _crc(body: bytes) -> bytes:
    return struct.pack("<I", zlib.crc32(body))


def _normalize(text: str) -> str:
    """A message with its quoted names, digests and numbers blanked: one line per kind."""
    text = re.sub(r"'[^']*'", "'…'", text)
    text = re.sub(r"\b[0-9a-f]{16}\b", "<hex>", text)  # digests
    return re.sub(r"\d+(\.\d+)?", "#", text)[:160]


# ---------------------------------------------------------------------------------------------
# Seeds


@dataclass(frozen=True)
class Seed:
    """A valid .lic file, its parsed header and streams, and its truncation orders."""

    label: str
    model: str
    quality: float
    data: bytes
    header: Header
    streams: list[bytes]
    truncations: dict[str, list[int]]

    @property
    def body(self) -> bytes:
        """Everything before the CRC-32."""
        return self.data[:-4]

    @property
    def header_len(self) -> int:
        return len(self.data) - 4 - sum(map(len, self.streams))


def synthetic_image(width: int, height: int, mode: str, seed: int) -> Image.Image:
    """Smooth waves, an edge (a darker disc) and noise: a small photo-like image."""
    rng = np.random.default_rng([seed, width, height, len(mode)])
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    phase = rng.uniform(0, 2 * np.pi, 3)
    rgb = np.stack(
        [128 + 90 * np.sin(xx / (7 + 5 * c) + yy / (11 + 3 * c) + phase[c]) for c in range(3)],
        -1,
    )
    rgb[(xx - width / 3) ** 2 + (yy - height / 2) ** 2 < (min(width, height) / 4) ** 2] *= 0.5
    rgb += rng.normal(0, 8, rgb.shape)
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    image = image.convert("L") if mode == "L" else image
    if mode == "RGB":  # photo metadata for the container's metadata section
        image.info.update(icc_profile=bytes(rng.integers(0, 256, 64, np.uint8)), xmp=b"<x/>")
        image.getexif()[0x010F] = "fuzz"
    return image


def seed_qualities(name: str) -> list[float]:
    """The qualities the seeds of model `name` are coded at; empty without weights."""
    spec = get_spec(name)
    if spec.variable_rate:
        return [float(spec.lowest_quality), SEED_QUALITY] if shipped(spec) else []
    available = sorted(set(shipped(spec)) | set(folded(spec)))
    return sorted({float(available[0]), float(available[-1])}) if available else []


def default_models() -> list[str]:
    """Every registered model with shipped weights."""
    return [name for name, spec in sorted(REGISTRY.items()) if shipped(spec)]


def make_seeds(models: list[str], run_seed: int) -> list[Seed]:
    """Encode the synthetic images with every model at its seed qualities."""
    seeds = []
    for name in models:
        for quality in seed_qualities(name):
            model, coding_quality = model_for(name, quality)
            for (width, height), mode in itertools.product(SEED_SIZES, SEED_MODES):
                image = synthetic_image(width, height, mode, run_seed)
                data = encode(model, image, coding_quality)
                header, streams = unpack(data)
                label = f"{name}/{width}x{height}-{mode}-q{quality:g}"
                truncations = {}
                for crc, size in (("kept", len(data)), ("fixed", len(data) - 4)):
                    order = list(range(size))
                    random.Random(f"lic-fuzz/{run_seed}/truncate/{label}/{crc}").shuffle(order)
                    truncations[crc] = order
                seeds.append(Seed(label, name, quality, data, header, streams, truncations))
    return seeds


def check_seeds(seeds: list[Seed]) -> list[str]:
    """Decode every seed both ways (warming the model caches the workers inherit); problems."""
    problems = []
    for seed in seeds:
        for given in (None, (seed.model, seed.quality)):
            outcome, detail = decode_case(seed.data, given)
            if outcome != "decoded":
                problems.append(f"{seed.label}: {outcome}: {detail['type']}: {detail['message']}")
    return problems


# ---------------------------------------------------------------------------------------------
# Cases


@dataclass
class Case:
    """One input to decode, and how it was made (enough to tell, not to remake it)."""

    index: int
    family: str
    crc: str
    seed: str
    what: str
    given: tuple[str, float] | None
    data: bytes

    def describe(self) -> str:
        via = f"model {self.given[0]} passed in" if self.given else "model from the header"
        return (
            f"case {self.index}: {self.family} [crc {self.crc}] of {self.seed}: {self.what}; "
            f"{len(self.data)} bytes, {via}"
        )


@dataclass
class Draft:
    """A header and streams being mutated, and at most one edit of the packed bytes."""

    header: Header
    streams: list[bytes]
    edit: Callable[[bytearray], None] | None = None
    notes: list[str] = field(default_factory=list)

    def pack(self) -> bytes:
        header = dataclasses.replace(self.header, stream_lengths=[len(s) for s in self.streams])
        return pack(header, self.streams)[:-4]

    def offset_of(self, name: str, a: Any, b: Any) -> int | None:
        """Where header field `name` starts in the packed bytes: the first byte that differs
        between two packings with values `a` and `b` (None if the lengths differ)."""
        packs = [
            pack(dataclasses.replace(self.header, **{name: v}), self.streams)[:-4] for v in (a, b)
        ]
        if len(packs[0]) != len(packs[1]):
            return None
        return next((i for i, (x, y) in enumerate(zip(*packs)) if x != y), None)


class CaseStream:
    """Case `index` of a run: a pure function of the run's seed, the index and the seeds."""

    def __init__(self, seeds: list[Seed], run_seed: int) -> None:
        self.seeds = seeds
        self.run_seed = run_seed
        self.families = list(FAMILIES)
        self.weights = list(FAMILIES.values())
        #: Structured mutations `pack` refused (made bit flips instead), by family and error.
        self.refused: Counter = Counter()

    def case(self, index: int) -> Case:
        pair, fixed = divmod(index, 2)
        crc = "fixed" if fixed else "kept"
        rng = random.Random(f"lic-fuzz/{self.run_seed}/{pair}")
        if pair % TRUNCATE_EVERY == 0:
            family = "truncate"
            seed, data, what = self._truncate(pair // TRUNCATE_EVERY, crc)
        else:
            family = rng.choices(self.families, self.weights)[0]
            seed = rng.choice(self.seeds)
            state = rng.getstate()
            try:
                body, what = getattr(self, f"_{family}")(rng, seed)
            except Exception as error:  # `pack` may come to refuse a value it takes today
                rng.setstate(state)
                self.refused[f"{family}: {type(error).__name__}: {error}"] += 1
                body, what = self._bitflip(rng, seed)
                what = f"({family} not packable: {type(error).__name__}: {error}) {what}"
            data = body + (_crc(body) if fixed else seed.data[-4:])
        given = (seed.model, seed.quality) if rng.random() < GIVEN_SHARE else None
        return Case(index, family, crc, seed.label, what, given, data)

    # --- truncation: enumerated ------------------------------------------------------------

    def _truncate(self, j: int, crc: str) -> tuple[Seed, bytes, str]:
        seed = self.seeds[j % len(self.seeds)]
        order = seed.truncations[crc]
        n = order[(j // len(self.seeds)) % len(order)]
        if crc == "kept":
            return seed, seed.data[:n], f"first {n} of {len(seed.data)} bytes"
        cut = seed.body[:n]
        return seed, cut + _crc(cut), f"first {n} of {len(seed.body)} bytes before the CRC"

    # --- bytes -----------------------------------------------------------------------------

    @staticmethod
    def _position(rng: random.Random, seed: Seed, size: int) -> int:
        """A position below `size`, half of the time inside the header."""
        limit = min(seed.header_len, size) if rng.random() < 0.5 else size
        return rng.randrange(max(limit, 1))

    @staticmethod
    def _byte(rng: random.Random) -> int:
        return rng.choice(INTERESTING_BYTES) if rng.random() < 0.5 else rng.randrange(256)

    def _bitflip(self, rng: random.Random, seed: Seed) -> tuple[bytes, str]:
        body = bytearray(seed.body)
        flips = []
        for _ in range(rng.choice([1, 1, 1, 1, 2, 3, 4, 8])):
            position, bit = self._position(rng, seed, len(body)), rng.randrange(8)
            body[position] ^= 1 << bit
            flips.append(f"{position}.{bit}")
        return bytes(body), f"bits {' '.join(flips)}"

    def _overwrite(self, rng: random.Random, seed: Seed) -> tuple[bytes, str]:
        body = bytearray(seed.body)
        position = self._position(rng, seed, len(body))
        values = bytes(self._byte(rng) for _ in range(rng.choice([1, 1, 2, 4])))
        body[position : position + len(values)] = values
        return bytes(body[: len(seed.body)]), f"bytes {position}: {values.hex()}"

    def _insert(self, rng: random.Random, seed: Seed) -> tuple[bytes, str]:
        body = seed.body
        position = self._position(rng, seed, len(body) + 1)
        n = rng.choice([1, 1, 2, 4, 8, 16, 128])
        kind = rng.choice(["random", "repeat", "copy"])
        if kind == "random":
            chunk = bytes(rng.randrange(256) for _ in range(n))
        elif kind == "repeat":
            chunk = bytes([self._byte(rng)]) * n
        else:
            chunk = body[max(position - n, 0) : position] or b"\0"
        return body[:position] + chunk + body[position:], f"{len(chunk)} {kind} at {position}"

    def _delete(self, rng: random.Random, seed: Seed) -> tuple[bytes, str]:
        body = seed.body
        position = self._position(rng, seed, len(body))
        n = rng.choice([1, 1, 2, 4, 8, 16, 64])
        return body[:position] + body[position + n :], f"{n} at {position}"

    def _splice(self, rng: random.Random, seed: Seed) -> tuple[bytes, str]:
        other = rng.choice(self.seeds)
        a, b = seed.body, other.body
        kind = rng.choice(["streams", "offset", "random", "insert", "over"])
        if kind == "streams":
            i, j = seed.header_len, other.header_len
        elif kind == "offset":
            i = j = rng.randrange(min(len(a), len(b)))
        else:
            i, j = rng.randrange(len(a) + 1), rng.randrange(len(b))
        if kind in ("insert", "over"):
            chunk = b[j : j + rng.choice([4, 16, 64, 256])]
            tail = a[i:] if kind == "insert" else a[i + len(chunk) :]
            what = f"{kind} {other.label}[{j}:{j + len(chunk)}] at {i}"
            return a[:i] + chunk + tail, what
        return a[:i] + b[j:], f"[:{i}] + {other.label}[{j}:] ({kind})"

    def _identity(self, rng: random.Random, seed: Seed) -> tuple[bytes, str]:
        return seed.body, "unchanged"

    # --- streams ---------------------------------------------------------------------------

    def _streams(self, rng: random.Random, seed: Seed) -> tuple[bytes, str]:
        streams = list(seed.streams)
        k = rng.randrange(len(streams))
        other = rng.choice(self.seeds)
        kind = rng.choice(STREAM_KINDS)
        if kind == "swap" and len(streams) > 1:
            i, j = rng.sample(range(len(streams)), 2)
            streams[i], streams[j] = streams[j], streams[i]
            what = f"swap {i} and {j}"
        elif kind in ("swap", "other"):
            j = k if k < len(other.streams) else rng.randrange(len(other.streams))
            streams[k] = other.streams[j]
            what = f"{k} from {other.label} stream {j}"
        elif kind == "empty":
            streams[k], what = b"", f"{k} emptied"
        elif kind == "drop":
            del streams[k]
            what = f"{k} dropped"
        elif kind == "extra":
            streams.append(rng.choice([b"", b"\0" * 4, other.streams[0], streams[k]]))
            what = f"one more ({len(streams[-1])} bytes)"
        elif kind == "duplicate":
            streams.insert(k, streams[k])
            what = f"{k} twice"
        elif kind == "cut":
            size = len(streams[k])
            n = max(0, rng.choice([0, 1, 4, size - 4, size - 1, rng.randrange(size + 1)]))
            streams[k], what = streams[k][:n], f"{k} cut to {n} of {size} bytes"
        elif kind == "extend":
            extra = rng.choice([b"\0" * 4, b"\xff" * 4, b"\0", streams[k], bytes(64)])
            streams[k], what = streams[k] + extra, f"{k} extended by {len(extra)} bytes"
        elif kind == "zero":
            streams[k], what = bytes(len(streams[k])), f"{k} zeroed"
        else:
            streams, what = [b""] * len(streams), "all emptied"
        return Draft(seed.header, streams).pack(), what

    # --- header fields ---------------------------------------------------------------------

    def _header(self, rng: random.Random, seed: Seed) -> tuple[bytes, str]:
        draft = Draft(seed.header, list(seed.streams))
        fields = [name.removeprefix("_field_") for name in dir(self) if name.startswith("_field_")]
        for name in rng.sample(fields, 1 if rng.random() < 0.75 else 2):
            getattr(self, f"_field_{name}")(rng, seed, draft)
        body = bytearray(draft.pack())
        if draft.edit is not None:
            draft.edit(body)
        return bytes(body), "; ".join(draft.notes)

    @staticmethod
    def _set(draft: Draft, note: str, **values: Any) -> None:
        draft.header = dataclasses.replace(draft.header, **values)
        draft.notes.append(note)

    @staticmethod
    def _edit(draft: Draft, note: str, edit: Callable[[bytearray], None]) -> None:
        """Set the one byte edit of the packed draft (a second one is noted and dropped: the
        offsets of the second would be those before the first)."""
        if draft.edit is None:
            draft.edit = edit
            draft.notes.append(note)

    def _field_version(self, rng: random.Random, seed: Seed, draft: Draft) -> None:
        version = rng.choice(VERSIONS)

        def edit(body: bytearray) -> None:
            body[3] = version  # after the 3-byte magic

        self._edit(draft, f"version byte {version}", edit)

    def _field_name(self, rng: random.Random, seed: Seed, draft: Draft) -> None:
        name = draft.header.model
        name = rng.choice(
            [
                *sorted(REGISTRY),
                "",
                "x",
                "x" * 255,
                "y" * 300,
                name + "\0",
                name.upper(),
                name[:-1],
                "../" + name,
            ]
        )
        self._set(draft, f"model {name[:40]!r}{'…' if len(name) > 40 else ''}", model=name)

    def _field_name_bytes(self, rng: random.Random, seed: Seed, draft: Draft) -> None:
        name = draft.header.model.encode("ascii")
        replacement = rng.choice([b"\xff", b"\xc3\xa9", b"\x80"])

        def edit(body: bytearray) -> None:
            at = body.find(varint(len(name)) + name) + len(varint(len(name)))
            if name and at >= len(varint(len(name))):
                body[at : at + len(replacement)] = replacement[: len(name)]

        self._edit(draft, f"model name starts with {replacement.hex()}", edit)

    def _field_name_length(self, rng: random.Random, seed: Seed, draft: Draft) -> None:
        name = draft.header.model.encode("ascii")
        n = len(name)
        value = rng.choice([0, max(n - 1, 0), n + 1, 127, 128, 255, 1 << 16, *BIG])

        def edit(body: bytearray) -> None:
            old = varint(n)
            at = body.find(old + name)
            if at >= 0:
                body[at : at + len(old)] = varint(value)

        self._edit(draft, f"name length {value} for {n}", edit)

    def _field_quality(self, rng: random.Random, seed: Seed, draft: Draft) -> None:
        quality = rng.choice(QUALITIES)
        self._set(draft, f"quality {quality!r}", quality=quality)

    def _field_quality_bits(self, rng: random.Random, seed: Seed, draft: Draft) -> None:
        bits = rng.choice(QUALITY_BITS)
        a, b = (struct.unpack("<f", raw)[0] for raw in (b"\x01\x02\x03\x3f", b"\x05\x06\x07\x40"))
        at = draft.offset_of("quality", a, b)

        def edit(body: bytearray) -> None:
            if at is not None:
                body[at : at + 4] = struct.pack("<I", bits)

        self._edit(draft, f"quality bits {bits:#010x}", edit)

    def _field_digest(self, rng: random.Random, seed: Seed, draft: Draft) -> None:
        digest = bytearray(draft.header.weights_digest)
        kind = rng.choice(["zero", "ones", "flip"])
        if kind == "flip":
            digest[rng.randrange(len(digest))] ^= 1 << rng.randrange(8)
        else:
            digest = bytearray(b"\0" * 8 if kind == "zero" else b"\xff" * 8)
        self._set(draft, f"digest {digest.hex()}", weights_digest=bytes(digest))

    def _side(self, rng: random.Random) -> int:
        return rng.choice(SIDES + [MAX_PIXELS, *BIG])

    def _field_width(self, rng: random.Random, seed: Seed, draft: Draft) -> None:
        width = self._side(rng)
        self._set(draft, f"width {width}", width=width)

    def _field_height(self, rng: random.Random, seed: Seed, draft: Draft) -> None:
        height = self._side(rng)
        self._set(draft, f"height {height}", height=height)

    def _field_size(self, rng: random.Random, seed: Seed, draft: Draft) -> None:
        """An image size with the latent shapes the seed's model would give it."""
        width, height = rng.choice(SIZES)
        model, _ = model_for(seed.model, seed.quality)
        stride = model.stride
        shapes = model.latent_shapes(height + (-height % stride), width + (-width % stride))
        streams = rng.choice(["kept", "kept", "empty", "zero"])
        if streams != "kept":
            # Streams the range decoder reads as valid, so that decoding goes on into the size.
            draft.streams = [b"" if streams == "empty" else bytes(64) for _ in draft.streams]
        self._set(
            draft,
            f"size {width}×{height}, shapes {shapes}, streams {streams}",
            width=width,
            height=height,
            shapes=shapes,
        )

    def _field_mode(self, rng: random.Random, seed: Seed, draft: Draft) -> None:
        value = rng.choice([0, 2, 4, 0x80, 0xFF])
        at = draft.offset_of("mode", "L", "RGB")

        def edit(body: bytearray) -> None:
            if at is not None:
                body[at] = value

        self._edit(draft, f"colour mode byte {value}", edit)

    def _field_shape(self, rng: random.Random, seed: Seed, draft: Draft) -> None:
        shapes = [list(s) for s in draft.header.shapes]
        i = rng.randrange(len(shapes))
        kind = rng.choice(["dim", "dim", "rank", "count"])
        if kind == "dim" and shapes[i]:
            d = rng.randrange(len(shapes[i]))
            shapes[i][d] = rng.choice(DIMS + BIG[:-1])
            note = f"shape {i} dim {d} = {shapes[i][d]}"
        elif kind in ("dim", "rank"):
            shapes[i] = rng.choice([[], shapes[i][:-1], [*shapes[i], 1], [1] * 255])
            note = f"shape {i} rank {len(shapes[i])}"
        else:
            shapes = rng.choice(
                [[], shapes[:-1], shapes + shapes[-1:], shapes[::-1], [[1, 1, 1]] * 255]
            )
            note = f"{len(shapes)} shapes"
        self._set(draft, note, shapes=[tuple(s) for s in shapes])

    def _field_stream_lengths(self, rng: random.Random, seed: Seed, draft: Draft) -> None:
        lengths = [len(s) for s in draft.streams]
        k = rng.randrange(len(lengths))
        n = lengths[k]
        new = list(lengths)
        count = len(lengths)
        if rng.random() < 0.25:
            count = rng.choice([0, 1, max(count - 1, 0), count + 1, 255])
            note = f"stream count byte {count} for {len(lengths)}"
        else:
            new[k] = rng.choice([0, 1, 3, 4, max(n - 1, 0), n + 1, n + 4, 2 * n, *BIG])
            note = f"stream {k} length {new[k]} for {n}"

        def edit(body: bytearray) -> None:
            start = len(body) - sum(lengths)
            old = bytes([len(lengths)]) + b"".join(map(varint, lengths))
            if body[start - len(old) : start] == old:
                body[start - len(old) : start] = bytes([count]) + b"".join(map(varint, new))

        self._edit(draft, note, edit)

    def _field_twin(self, rng: random.Random, seed: Seed, draft: Draft) -> None:
        """The model's fixed-rate twin (or variable-rate twin) named, at an odd quality."""
        name = draft.header.model
        twin = name.removesuffix("-vr") if name.endswith("-vr") else f"{name}-vr"
        quality = rng.choice([1.0, 2.0, 4.0, 8.0, 4.5, *QUALITIES])
        self._set(draft, f"model {twin}, quality {quality!r}", model=twin, quality=quality)


# ---------------------------------------------------------------------------------------------
# Decoding a case, in a worker


def _where(error: BaseException) -> str:
    """The innermost frame in lic (else the innermost frame) of an exception's traceback."""
    frames = traceback.extract_tb(error.__traceback__)
    inside = [f for f in frames if "/lic/" in f.filename] or frames
    if not inside:
        return ""
    frame = inside[-1]
    path = frame.filename
    if "/lic/" in path:
        path = "lic/" + path.rsplit("/lic/", 1)[1]
    return f"{path}:{frame.lineno} in {frame.name}"


def _detail(error: BaseException) -> dict[str, str]:
    kind = type(error)
    module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
    message = str(error).strip()
    return {
        "type": module + kind.__qualname__,
        "message": message.splitlines()[0][:300] if message else "",
        "where": _where(error),
        "traceback": "".join(traceback.format_exception(error)),
    }


def decode_case(data: bytes, given: tuple[str, float] | None) -> tuple[str, dict[str, str]]:
    """Decode `data` (with the model `given` passed in, else the header's) and classify."""
    try:
        model = None if given is None else model_for(*given)[0]
        image = decode(data, model=model)
    except LicError as error:
        return "error", {"type": "LicError", "message": str(error).splitlines()[0][:300]}
    except MemoryError as error:
        return "oom", _detail(error)
    except Exception as error:  # any other exception is what the fuzzer hunts
        return "exception", _detail(error)
    header, _ = unpack(data)
    expected = ((header.width, header.height), header.mode)
    got = (getattr(image, "size", None), getattr(image, "mode", None))
    if not isinstance(image, Image.Image) or got != expected:
        message = f"decode returned {type(image).__name__} {got}, the header says {expected}"
        return "exception", {"type": "WrongImage", "message": message, "where": "", "traceback": ""}
    return "decoded", {"type": "", "message": f"{image.width}×{image.height} {image.mode}"}


def _serve(conn: multiprocessing.connection.Connection, memory: int, threads: int) -> None:
    """A worker's loop: decode the cases the parent sends, one answer each."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    faulthandler.enable()
    warnings.simplefilter("ignore")
    torch.set_num_threads(threads)
    while True:
        try:
            data, given = conn.recv()
        except EOFError:
            return
        conn.send(decode_case(data, given))


class Worker:
    """A forked worker process, the case it is decoding and the time it must answer by."""

    def __init__(self, memory: int, threads: int) -> None:
        self.memory, self.threads = memory, threads
        self.case: Case | None = None
        self.deadline = 0.0
        self._start()

    def _start(self) -> None:
        context = multiprocessing.get_context("fork")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(child, self.memory, self.threads), daemon=True
        )
        self.process.start()
        child.close()

    def submit(self, case: Case, timeout: float) -> None:
        self.case, self.deadline = case, time.monotonic() + timeout
        try:
            self.conn.send((case.data, case.given))
        except OSError:
            pass  # it died: the pipe reads as closed and `collect` says how

    def collect(self) -> tuple[Case, str, dict[str, str]]:
        """The answer (or how the worker died) for the case it was given."""
        assert self.case is not None
        try:
            outcome, detail = self.conn.recv()
        except (EOFError, OSError):
            outcome, detail = self._died()
        case, self.case = self.case, None
        return case, outcome, detail

    def timed_out(self, timeout: float) -> tuple[Case, str, dict[str, str]]:
        assert self.case is not None
        self._restart()
        case, self.case = self.case, None
        return case, "hang", {"type": "timeout", "message": f"no answer in {timeout:g} s"}

    def _died(self) -> tuple[str, dict[str, str]]:
        self.process.join(5)
        code = self.process.exitcode
        self._restart()
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            if -code == signal.SIGKILL:
                return "oom", {"type": name, "message": "worker killed by SIGKILL (OOM killer?)"}
            return "crash", {"type": name, "message": f"worker killed by {name}"}
        return "crash", {"type": "exit", "message": f"worker exited with status {code}"}

    def _restart(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()
        self._start()

    def close(self) -> None:
        self.conn.close()
        self.process.kill()
        self.process.join()


def run_cases(
    cases: Iterable[Case],
    workers: int,
    timeout: float,
    memory: int,
    threads: int,
    on_result: Callable[[Case, str, dict[str, str]], None],
    stop: Callable[[], bool],
) -> None:
    """Decode `cases` on `workers` workers until they run out or `stop()`; every case handed
    out is answered (in-flight ones are finished, each within `timeout`)."""
    pool = [Worker(memory, threads) for _ in range(workers)]
    pending: Iterator[Case] = iter(cases)
    exhausted = False
    try:
        while True:
            for worker in pool:
                if worker.case is None and not exhausted and not stop():
                    case = next(pending, None)
                    if case is None:
                        exhausted = True
                    else:
                        worker.submit(case, timeout)
            busy = [w for w in pool if w.case is not None]
            if not busy:
                return
            wait = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            ready = multiprocessing.connection.wait([w.conn for w in busy], timeout=wait)
            for worker in busy:
                if worker.conn in ready:
                    on_result(*worker.collect())
                elif time.monotonic() >= worker.deadline:
                    on_result(*worker.timed_out(timeout))
    finally:
        for worker in pool:
            worker.close()


# ---------------------------------------------------------------------------------------------
# Counting, saving, reporting


@dataclass
class Tally:
    """Counts of one run, or of every run that shared a state file."""

    counts: Counter = field(default_factory=Counter)
    families: dict[str, Counter] = field(default_factory=dict)
    errors: Counter = field(default_factory=Counter)
    findings: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, case: Case, outcome: str, detail: dict[str, str]) -> str | None:
        """Count a result; for a non-error outcome, return its signature."""
        self.counts[outcome] += 1
        self.families.setdefault(case.family, Counter())[outcome] += 1
        if outcome == "error":
            self.errors[_normalize(detail["message"])] += 1
        if outcome in GOOD:
            return None
        where = re.sub(r":\d+ in ", " in ", detail.get("where", ""))
        signature = f"{outcome}: {detail['type']}: {_normalize(detail['message'])} @ {where}"
        finding = self.findings.setdefault(
            signature,
            {
                "outcome": outcome,
                "type": detail["type"],
                "message": detail["message"],
                "where": detail.get("where", ""),
                "count": 0,
                "saved": [],
                "first": case.describe(),
            },
        )
        finding["count"] += 1
        return signature

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": {k: self.counts[k] for k in OUTCOMES},
            "families": {k: dict(v) for k, v in sorted(self.families.items())},
            "errors": dict(self.errors.most_common()),
            "findings": self.findings,
        }

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Tally:
        return cls(
            Counter(record.get("counts", {})),
            {k: Counter(v) for k, v in record.get("families", {}).items()},
            Counter(record.get("errors", {})),
            record.get("findings", {}),
        )

    def line(self) -> str:
        return "  ".join(f"{k} {self.counts[k]}" for k in OUTCOMES)

    def bad(self) -> int:
        return sum(self.counts[k] for k in OUTCOMES if k not in GOOD)


def save_case(folder: Path, case: Case, outcome: str, detail: dict[str, str], meta: dict) -> Path:
    """Write CASE.lic and CASE.json (how it was made, what happened) for `--replay`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{outcome}-{case.index:09d}.lic"
    path.write_bytes(case.data)
    record = {
        "case": case.describe(),
        "index": case.index,
        "family": case.family,
        "crc": case.crc,
        "seed": case.seed,
        "what": case.what,
        "given": case.given,
        "outcome": outcome,
        **detail,
        **meta,
    }
    path.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    return path


def print_findings(tally: Tally, saved: Tally, title: str) -> None:
    """The distinct non-error outcomes of `tally`, with a saved case of each from `saved`."""
    if not tally.findings:
        print(f"{title}: none")
        return
    print(f"{title}:")
    for signature, finding in sorted(tally.findings.items(), key=lambda f: -f[1]["count"]):
        where = f" ({finding['where']})" if finding["where"] else ""
        print(
            f"  {finding['count']:6d}× {finding['outcome']}: {finding['type']}: "
            f"{finding['message']}{where}"
        )
        print(f"          first: {finding['first']}")
        for path in saved.findings.get(signature, finding)["saved"][:1]:
            print(f"          replay: python benchmarks/fuzz.py --replay {path}")


# ---------------------------------------------------------------------------------------------
# Main


def fuzz(args: argparse.Namespace) -> int:
    models = args.models or default_models()
    for name in models:
        if not seed_qualities(name):
            print(f"fuzz: no shipped (or folded) weights for {name}", file=sys.stderr)
            return 2
    config = {"seed": args.seed, "models": models}
    state: dict[str, Any] = {}
    if args.state and args.state.exists():
        state = json.loads(args.state.read_text())
        if state.get("config") != config:
            print(
                f"fuzz: {args.state} is a run with {state.get('config')}, not {config}",
                file=sys.stderr,
            )
            return 2
    start = args.start if args.start is not None else state.get("next", 0)

    began = time.monotonic()
    try:
        seeds = make_seeds(models, args.seed)
        problems = check_seeds(seeds)
    except Exception:  # the codec itself is broken: nothing to fuzz
        traceback.print_exc()
        print("fuzz: the seeds could not be made", file=sys.stderr)
        return 2
    if problems:
        print("fuzz: seeds that do not decode:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    sizes = sorted(len(s.data) for s in seeds)
    print(
        f"fuzz: {len(seeds)} seeds ({sizes[0]}–{sizes[-1]} bytes) from {', '.join(models)} "
        f"in {time.monotonic() - began:.1f} s; cases from {start}, seed {args.seed}",
        flush=True,
    )

    stream = CaseStream(seeds, args.seed)
    indices = itertools.count(start) if args.count is None else range(start, start + args.count)
    run, total = Tally(), Tally.from_json(state)
    meta = {"config": config}
    done: set[int] = set()
    next_index = start
    t0 = last_report = time.monotonic()

    def save_state() -> dict:
        """Write the totals so far (at every progress line and at the end): a run killed in
        between resumes from its last progress line. Returns what it wrote."""
        record = {
            "config": config,
            "next": next_index,
            "last_done": next_index - 1,
            "cases": state.get("cases", 0) + sum(run.counts.values()),
            "seconds": round(state.get("seconds", 0.0) + time.monotonic() - t0, 1),
            **total.to_json(),
        }
        if args.state:
            args.state.parent.mkdir(parents=True, exist_ok=True)
            partial = args.state.with_suffix(".tmp")
            partial.write_text(json.dumps(record, indent=1) + "\n")
            partial.replace(args.state)
        return record

    def on_result(case: Case, outcome: str, detail: dict[str, str]) -> None:
        nonlocal next_index, last_report
        signature = run.add(case, outcome, detail)
        total.add(case, outcome, detail)
        done.add(case.index)
        while next_index in done:
            done.remove(next_index)
            next_index += 1
        if signature is not None:
            finding = total.findings[signature]
            if len(finding["saved"]) < args.keep:
                finding["saved"].append(str(save_case(args.failures, case, outcome, detail, meta)))
            if finding["count"] == 1:
                print(f"  new: {signature}\n       {case.describe()}", flush=True)
        now = time.monotonic()
        if now - last_report >= args.report_every:
            last_report = now
            cases = sum(run.counts.values())
            print(
                f"  {cases} cases, {cases / (now - t0):.1f}/s, up to {next_index - 1}: "
                f"{run.line()}",
                flush=True,
            )
            save_state()

    def stop() -> bool:
        return args.seconds is not None and time.monotonic() - t0 >= args.seconds

    interrupted = False
    try:
        run_cases(
            (stream.case(i) for i in indices),
            args.workers,
            args.timeout,
            int(args.memory_gib * 2**30),
            args.threads,
            on_result,
            stop,
        )
    except KeyboardInterrupt:
        interrupted = True
    elapsed = time.monotonic() - t0
    cases = sum(run.counts.values())

    record = save_state()

    print(
        f"fuzz: {cases} cases ({start}…{next_index - 1}) in {elapsed:.1f} s, "
        f"{cases / max(elapsed, 1e-9):.1f} cases/s, {args.workers} worker(s)"
        + (" (interrupted)" if interrupted else "")
    )
    print(f"  {run.line()}")
    for family, counts in sorted(run.families.items()):
        print(f"  {family:10s} " + "  ".join(f"{k} {counts[k]}" for k in OUTCOMES if counts[k]))
    print("most frequent LicError messages:")
    for message, n in run.errors.most_common(args.errors):
        print(f"  {n:6d}  {message}")
    print_findings(run, total, "outcomes other than error and decoded, this run")
    for refusal, n in stream.refused.most_common():
        print(f"  {n:6d}× a mutation `pack` refused (a bit flip instead): {refusal}")
    if args.state:
        cases_all, last = record["cases"], record["last_done"]
        print(f"all runs in {args.state}: {cases_all} cases, up to case {last}")
        print(f"  {total.line()}")
    return 1 if run.bad() else 0


def replay(args: argparse.Namespace) -> int:
    paths: list[Path] = []
    for path in args.replay:
        paths += sorted(path.glob("*.lic")) if path.is_dir() else [path]
    cases = []
    for i, path in enumerate(paths):
        sidecar = path.with_suffix(".json")
        meta = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        given = tuple(meta["given"]) if meta.get("given") else None
        what = meta.get("case", "")
        cases.append(Case(i, "replay", "-", str(path), what, given, path.read_bytes()))
    bad = 0

    def on_result(case: Case, outcome: str, detail: dict[str, str]) -> None:
        nonlocal bad
        bad += outcome not in GOOD
        where = f" ({detail['where']})" if detail.get("where") else ""
        print(f"{case.seed}: {outcome}: {detail['type']}: {detail['message']}{where}")
        if case.what:
            print(f"  made as {case.what}")
        if detail.get("traceback"):
            print("  " + detail["traceback"].rstrip().replace("\n", "\n  "))

    run_cases(
        cases, 1, args.timeout, int(args.memory_gib * 2**30), args.threads, on_result, lambda: False
    )
    return 1 if bad else 0


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown, except None (whose meaning the help text says), and the docstring as is."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=_Formatter)
    parser.add_argument(
        "--models",
        nargs="+",
        metavar="NAME",
        help="models whose files seed the fuzzing (default: every model with shipped weights)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the images and the cases")
    parser.add_argument(
        "--start", type=int, help="first case index (default: the state's next, else 0)"
    )
    parser.add_argument("--count", type=int, help="cases to run (default: no limit)")
    parser.add_argument(
        "--seconds", type=float, help="stop handing out cases after this long (default: no limit)"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes decoding")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds a case may take: then a hang"
    )
    parser.add_argument(
        "--memory-gib", type=float, default=3.0, help="address-space limit of a worker (GiB)"
    )
    parser.add_argument(
        "--state", type=Path, help="JSON file of the counts and the next case, to resume from"
    )
    parser.add_argument(
        "--failures",
        type=Path,
        default=Path("runs/fuzz/failures"),
        help="folder for the cases whose outcome is neither error nor decoded",
    )
    parser.add_argument(
        "--keep", type=int, default=3, help="cases saved per distinct outcome and message"
    )
    parser.add_argument(
        "--report-every", type=float, default=15.0, help="seconds between progress lines"
    )
    parser.add_argument(
        "--errors", type=int, default=12, help="LicError messages listed at the end"
    )
    parser.add_argument(
        "--replay",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="decode these saved cases (or every .lic in these folders) and report, no fuzzing",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    return replay(args) if args.replay else fuzz(args)


if __name__ == "__main__":
    sys.exit(main())
