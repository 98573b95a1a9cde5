"""The analysis and synthesis transforms in overlapping tiles: bounded memory for any image size.

g_a and g_s (Ballé et al. 2018, figure 4) are stacks of convolutions and per-position
nonlinearities (GDN), so each latent depends on a bounded window of pixels and each pixel on a
bounded window of latents: ±30 pixels for four 5×5 stride-2 convolutions, about ±2 latent
positions the other way. Cutting the latent grid into `tile`×`tile` squares, running the
transform on each square widened by `halo` latent positions on every side (clipped at the image
border, where the untiled transform sees the same zero padding), and keeping the square's own
part of the result gives the untiled output up to float rounding (the convolution backend sums
in another order), with only one tile's activations in memory at a time: a 12-megapixel photo's
first GDN layer alone is 1.5 GB in float32, a tile of 48² latents (768² pixels, halo 2) 0.1 GB.

These tiles only bound the transforms' memory; they change nothing in the streams. The entropy
coding of the hyperprior models has tiles of its own, `CODING_TILE` (format version 3): each
coding tile of y is coded by the context on its own, as if it were a whole latent grid (its
context sees zeros beyond the tile; its ψ is computed from ẑ with a halo, so it has no seam),
one tile after another into the same stream, so coding holds one tile's parameters at a time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache

import torch

#: Latent positions per side of a tile. A Kodak image (48×32 latents) is one tile.
TILE = 48
#: Latent positions each tile reads beyond its own on every side: the receptive field of g_a
#: (±30 pixels, < 2 positions of 16) and of g_s (< 2 positions) of the GDN models. Measured on
#: kodim01 with tiles of 8: a halo of 1 moves y by 0.46, of 2 (or more) by 4e-5, float rounding.
#: The overhead on a large image: (48 + 2·2)² / 48² = 1.17× the untiled transform's work.
HALO = 2
#: Side, in latent positions of y, of the tiles the hyperprior models' contexts code one at a
#: time (format version 3; versions 1 and 2 code y as one grid). A Kodak image is one tile.
CODING_TILE = 64


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    library = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(library), "malloc_trim", None) if library else None
    return trim


def release_freed_memory() -> None:
    """Hand the heap memory freed by the last tile back to the system, where the C library can
    (glibc's malloc_trim; elsewhere nothing). Tiles free and allocate blocks of many sizes, and
    glibc keeps freed blocks below its (growing) mmap threshold in the heap: compressing a
    67-megapixel photo peaked at 1.56 GiB without this, 1.18 GiB with it
    (`benchmarks/large_images.py`, one thread)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def coding_tiles(rows: int, cols: int, tile: int | None) -> list[tuple[slice, slice]]:
    """The coding tiles of a rows × cols latent grid in raster order (one tile if `tile` is
    None: format versions 1 and 2)."""
    if tile is None:
        return [(slice(0, rows), slice(0, cols))]
    if tile < 1:
        raise ValueError("tile must be ≥ 1")
    return [
        (slice(r, min(r + tile, rows)), slice(c, min(c + tile, cols)))
        for r in range(0, rows, tile)
        for c in range(0, cols, tile)
    ]


def windowed(
    transform: Callable[[torch.Tensor], torch.Tensor],
    coarse: torch.Tensor,
    at: tuple[slice, slice],
    step: int,
    halo: int,
) -> torch.Tensor:
    """`transform(coarse)` at the fine positions `at` (rows, columns) alone, computed from the
    part of `coarse` under them widened by `halo` coarse positions (clipped at the border).

    `transform` maps a coarse grid to one `step` times finer (a hyper-synthesis: ẑ → ψ); with
    its receptive field within `halo` coarse positions, the result equals the whole grid's at
    `at` up to float rounding, so a coding tile's parameters need only the ẑ around it."""
    (rows, cols), (height, width) = at, coarse.shape[2:]
    r0, c0 = max(rows.start // step - halo, 0), max(cols.start // step - halo, 0)
    r1 = min(-(-rows.stop // step) + halo, height)
    c1 = min(-(-cols.stop // step) + halo, width)
    fine = transform(coarse[:, :, r0:r1, c0:c1])
    return fine[
        :,
        :,
        rows.start - r0 * step : rows.stop - r0 * step,
        cols.start - c0 * step : cols.stop - c0 * step,
    ]


def tiled(
    transform: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    in_step: int,
    out_step: int,
    tile: int = TILE,
    halo: int = HALO,
) -> torch.Tensor:
    """`transform(x)` computed tile by tile over the latent grid.

    Args:
        transform: maps a [B, C, h·in_step, w·in_step] crop of `x` to [B, C', h·out_step,
            w·out_step]; translation-equivariant with a receptive field within `halo` positions.
        x: the input, whose height and width are multiples of `in_step`.
        in_step, out_step: input and output samples per latent position (16 and 1 for g_a,
            1 and 16 for g_s).
        tile, halo: tile side and halo, in latent positions.
    Returns:
        The output, of the dtype `transform` returns (e.g. uint8 pixels straight from g_s).
    """
    if tile < 1 or halo < 0:
        raise ValueError("tile must be ≥ 1 and halo ≥ 0")
    rows, cols = x.shape[2] // in_step, x.shape[3] // in_step
    if rows <= tile and cols <= tile:
        return transform(x)
    out = None
    for r0 in range(0, rows, tile):
        r1 = min(r0 + tile, rows)
        a0, a1 = max(r0 - halo, 0), min(r1 + halo, rows)
        for c0 in range(0, cols, tile):
            c1 = min(c0 + tile, cols)
            b0, b1 = max(c0 - halo, 0), min(c1 + halo, cols)
            crop = x[:, :, a0 * in_step : a1 * in_step, b0 * in_step : b1 * in_step]
            result = transform(crop)
            own = result[
                :,
                :,
                (r0 - a0) * out_step : (r1 - a0) * out_step,
                (c0 - b0) * out_step : (c1 - b0) * out_step,
            ]
            if out is None:
                shape = (x.shape[0], result.shape[1], rows * out_step, cols * out_step)
                out = result.new_empty(shape)
            out[:, :, r0 * out_step : r1 * out_step, c0 * out_step : c1 * out_step] = own
            del result, own
            release_freed_memory()
    return out
