"""The entropy-coding seam: integer symbols in, bytes out, on constriction's range coder.

Symbols are coded in groups that share a table. The decoder must know every symbol's table
index before decoding (it does: indices come from side information already decoded), so both
sides visit the groups in the same order: ascending table index, raster order within a group.
That turns ~10⁵ symbols into a handful of vectorized calls into the coder.

Values outside a table's support are coded as the table's escape symbol, then bypass-coded:
the zig-zag code u of the overshoot is sent as its bit length n (uniform over 0…32) and its
n − 1 bits below the leading one (uniform, in chunks of at most 16 bits).

Symbols each under their own integer distribution (`lic.coding.persymbol`) are coded in the
caller's order, one row per symbol, with the same escape and the same marks.

Every stream ends with `END_MARK`, a 32-bit word coded uniformly, and after every
`MARK_EVERY` symbols holds a 16-bit `CHECK_MARK` (format version 2). The range decoder reads
zeros past the end of its data, and decodes any bytes to some symbols, so without marks a
stream too short for its latents, or garbage, would decode to a wrong image; with them, the
decoder knows how many symbols the stream holds, checks each mark as it passes it (garbage is
caught within `MARK_EVERY` symbols, whatever size the header claims) and at the end the end
mark and that no data is left over (beyond the one word of the decoder's look-ahead). A stream
that ends early or was cut from elsewhere fails with probability 1 − 2⁻³² or more. The marks
cost 4 bytes a stream and 2 bytes per 262 144 symbols (a 12-megapixel photo: ~36 marks).
"""

from __future__ import annotations

import constriction
import numpy as np

from lic.coding.persymbol import FAMILY, family_weights
from lic.coding.tables import TableSet
from lic.errors import LicError

_MAX_ESCAPE_BITS = 32
_CHUNK = 16
#: The last word of every stream ("LIC!" in ASCII), coded as two uniform 16-bit halves.
END_MARK = 0x4C494321
#: Symbols between check marks, and the mark ("lc"), coded as one uniform 16-bit symbol.
MARK_EVERY = 1 << 18
CHECK_MARK = 0x6C63
_HALF = constriction.stream.model.Uniform(1 << 16)
#: What decides how symbols outside a table are coded: part of every file's digest (the end
#: mark needs no digest: a decoder with another one refuses every stream).
CODER_CONSTANTS = f"range coder: escape bits {_MAX_ESCAPE_BITS}, chunk {_CHUNK}"


def _groups(indices: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Stable order that sorts positions by table index, and (table, start, stop) per group."""
    order = np.argsort(indices, kind="stable")
    sorted_indices = indices[order]
    tables, starts = np.unique(sorted_indices, return_index=True)
    stops = list(starts[1:]) + [len(order)]
    return order, [(int(t), int(a), int(b)) for t, a, b in zip(tables, starts, stops)]


def _overshoot(v: np.ndarray, length: int) -> np.ndarray:
    """Zig-zag code u ≥ 0 of values v outside 0 … length − 1: odd below, even above."""
    return np.where(v < 0, 2 * (-v - 1) + 1, 2 * (v - length))


def _from_overshoot(u: np.ndarray, length: int) -> np.ndarray:
    """The values whose `_overshoot` is u."""
    return np.where(u % 2 == 1, -(u // 2) - 1, u // 2 + length)


def _bypass_chunks(n: np.ndarray) -> list[np.ndarray]:
    """Sizes (in bits) of the mantissa chunks for bit lengths n: low 16 bits first."""
    mantissa = np.maximum(n - 1, 0)
    return [np.clip(mantissa - k, 0, _CHUNK) for k in range(0, _MAX_ESCAPE_BITS, _CHUNK)]


class Encoder:
    """Accumulates symbols; `finish()` returns the bytes of one stream."""

    def __init__(self) -> None:
        self._coder = constriction.stream.queue.RangeEncoder()
        self._count = 0  # symbols coded, for the check marks

    def encode(self, values: np.ndarray, indices: np.ndarray, tables: TableSet) -> None:
        """Code integer `values`, each under table `indices` (same shape)."""
        values = np.asarray(values, dtype=np.int64).ravel()
        indices = np.asarray(indices, dtype=np.int64).ravel()
        if values.shape != indices.shape:
            raise ValueError("values and indices must have the same number of elements")
        order, groups = _groups(indices)
        for t, start, stop in groups:
            v = values[order[start:stop]] - tables.offsets[t]
            length = tables.lengths[t]
            below, above = v < 0, v >= length
            symbols = np.where(below | above, length, v).astype(np.int32)
            self._encode_marked(symbols, tables.model(t))
            escaped = v[below | above]
            if len(escaped):
                self._encode_bypass(_overshoot(escaped, length))

    def encode_per_symbol(
        self, values: np.ndarray, frequencies: np.ndarray, offsets: np.ndarray
    ) -> None:
        """Code integer `values`[i] under its own row `frequencies`[i] (integer [n, L + 1], see
        `lic.coding.persymbol`): values offsets[i] … offsets[i] + L − 1 as themselves, others
        as the escape (the last entry) followed by their bypass code. In the caller's order."""
        weights = family_weights(frequencies)
        values = np.asarray(values, dtype=np.int64).ravel()
        offsets = np.asarray(offsets, dtype=np.int64).ravel()
        if not len(values) == len(offsets) == len(weights):
            raise ValueError("values, frequencies and offsets must have one entry per symbol")
        length = weights.shape[1] - 1
        v = values - offsets
        outside = (v < 0) | (v >= length)
        self._encode_marked(np.where(outside, length, v).astype(np.int32), FAMILY, weights)
        if np.any(outside):
            self._encode_bypass(_overshoot(v[outside], length))

    def _encode_marked(
        self, symbols: np.ndarray, model: object, weights: np.ndarray | None = None
    ) -> None:
        """Code `symbols` under `model` (a family: under the rows of `weights`, one a symbol),
        a check mark after every MARK_EVERY-th symbol."""
        start = 0
        while start < len(symbols):
            piece = symbols[start : start + MARK_EVERY - self._count % MARK_EVERY]
            if weights is None:
                self._coder.encode(piece, model)
            else:
                self._coder.encode(piece, model, weights[start : start + len(piece)])
            self._count += len(piece)
            start += len(piece)
            if self._count % MARK_EVERY == 0:
                self._coder.encode(np.array([CHECK_MARK], dtype=np.int32), _HALF)

    def _encode_bypass(self, u: np.ndarray) -> None:
        if np.any(u >= 2**_MAX_ESCAPE_BITS):
            raise LicError("a latent value is too large to code; the input is not an image")
        n = np.zeros_like(u)
        nz = u > 0
        n[nz] = np.floor(np.log2(u[nz])).astype(np.int64) + 1
        self._coder.encode(
            n.astype(np.int32), constriction.stream.model.Uniform(_MAX_ESCAPE_BITS + 1)
        )
        mantissa = u - np.where(nz, 2 ** np.maximum(n - 1, 0), 0)
        shift = 0
        for bits in _bypass_chunks(n):
            sel = bits > 0
            if np.any(sel):
                chunk = (mantissa[sel] >> shift) & ((1 << bits[sel]) - 1)
                sizes = (1 << bits[sel]).astype(np.int32)
                self._coder.encode(
                    chunk.astype(np.int32), constriction.stream.model.Uniform(), sizes
                )
            shift += _CHUNK

    def finish(self) -> bytes:
        """The stream's bytes, `END_MARK` last."""
        self._coder.encode(np.array([END_MARK >> 16, END_MARK & 0xFFFF], dtype=np.int32), _HALF)
        return self._coder.get_compressed().tobytes()


class Decoder:
    """Reads `symbols` values back from the bytes of one stream, in the encoder's order.

    Checks each check mark as it passes it and, after the last symbol, `END_MARK` and that no
    data is left over (`marks` False reads format-version-1 streams, written without marks).
    Asking for more symbols than announced, or `check_finished` before all were read, is a
    LicError."""

    def __init__(self, data: bytes, symbols: int, marks: bool = True) -> None:
        if len(data) % 4:
            raise LicError("corrupted stream: its length is not a whole number of coder words")
        if marks and not data:  # even a stream of no symbols holds its end mark
            raise LicError("corrupted file: a stream ends before its symbols do")
        self._coder = constriction.stream.queue.RangeDecoder(np.frombuffer(data, dtype=np.uint32))
        self._remaining = symbols
        self._marks = marks
        self._count = 0

    def decode(self, indices: np.ndarray, tables: TableSet) -> np.ndarray:
        """Decode one value per entry of `indices`; returns int64 values of the same shape."""
        shape = np.shape(indices)
        indices = np.asarray(indices, dtype=np.int64).ravel()
        if len(indices) > self._remaining:
            raise LicError("corrupted file: the latents need more symbols than the stream holds")
        out = np.empty(len(indices), dtype=np.int64)
        order, groups = _groups(indices)
        try:
            for t, start, stop in groups:
                length = tables.lengths[t]
                symbols = self._decode_marked(tables.model(t), stop - start)
                escaped = symbols == length
                if np.any(escaped):
                    u = self._decode_bypass(int(escaped.sum()))
                    symbols[escaped] = _from_overshoot(u, length)
                out[order[start:stop]] = symbols + tables.offsets[t]
        except (ValueError, RuntimeError, OverflowError, AssertionError) as error:
            # constriction asserts when the data cannot come from these tables.
            raise LicError(f"corrupted stream: {error}") from None
        self._remaining -= len(indices)
        if self._remaining == 0:
            self._check_end()
        return out.reshape(shape)

    def decode_per_symbol(self, frequencies: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Decode one value per row of `frequencies` (see `Encoder.encode_per_symbol`), with
        `offsets` one a row; returns int64 values of the shape of `offsets`."""
        weights = family_weights(frequencies)
        shape = np.shape(offsets)
        offsets = np.asarray(offsets, dtype=np.int64).ravel()
        if len(offsets) != len(weights):
            raise ValueError("frequencies and offsets must have one entry per symbol")
        if len(offsets) > self._remaining:
            raise LicError("corrupted file: the latents need more symbols than the stream holds")
        length = weights.shape[1] - 1
        try:
            symbols = self._decode_marked(FAMILY, len(offsets), weights)
            escaped = symbols == length
            if np.any(escaped):
                symbols[escaped] = _from_overshoot(self._decode_bypass(int(escaped.sum())), length)
        except (ValueError, RuntimeError, OverflowError, AssertionError) as error:
            raise LicError(f"corrupted stream: {error}") from None
        self._remaining -= len(offsets)
        if self._remaining == 0:
            self._check_end()
        return (symbols + offsets).reshape(shape)

    def _decode_marked(
        self, model: object, count: int, weights: np.ndarray | None = None
    ) -> np.ndarray:
        """`count` symbols under `model` (a family: under the rows of `weights`, one a symbol),
        checking the marks among them (see Encoder)."""
        pieces = []
        done = 0
        while count:
            size = min(count, MARK_EVERY - self._count % MARK_EVERY) if self._marks else count
            if weights is None:
                piece = self._coder.decode(model, size)
            else:
                piece = self._coder.decode(model, weights[done : done + size])
            pieces.append(piece.astype(np.int64))
            done += size
            self._count += size
            count -= size
            if self._marks and self._count % MARK_EVERY == 0:
                if int(self._coder.decode(_HALF, 1)[0]) != CHECK_MARK:
                    raise LicError(
                        f"corrupted file: a stream's check mark after {self._count} symbols "
                        "is wrong (garbage, or data cut from elsewhere)"
                    )
        return np.concatenate(pieces) if pieces else np.empty(0, np.int64)

    def check_finished(self) -> None:
        """Raise unless every announced symbol was read (and the end checked)."""
        if self._remaining:
            raise LicError(f"corrupted file: {self._remaining} symbols of a stream were not read")

    def _check_end(self) -> None:
        try:
            if self._marks:
                high, low = self._coder.decode(_HALF, 2).tolist()
                if (high << 16) | low != END_MARK:
                    raise LicError("corrupted file: a stream ends before its symbols do")
            if not self._coder.maybe_exhausted():
                raise LicError("corrupted file: data left after a stream's symbols")
        except (ValueError, RuntimeError, AssertionError) as error:
            raise LicError(f"corrupted stream: {error}") from None

    def _decode_bypass(self, count: int) -> np.ndarray:
        n = self._coder.decode(constriction.stream.model.Uniform(_MAX_ESCAPE_BITS + 1), count)
        n = n.astype(np.int64)
        u = np.where(n > 0, 2 ** np.maximum(n - 1, 0), 0)
        shift = 0
        for bits in _bypass_chunks(n):
            sel = bits > 0
            if np.any(sel):
                sizes = (1 << bits[sel]).astype(np.int32)
                chunk = self._coder.decode(constriction.stream.model.Uniform(), sizes)
                u[sel] += chunk.astype(np.int64) << shift
            shift += _CHUNK
        return u
