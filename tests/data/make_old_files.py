"""Write the test files of older format versions (`v1-*.lic`, `v2-*.lic`, and the PNG each
decodes to) with the code of the release that wrote that version and the weights shipped now,
so that tests/test_untrusted_input.py keeps proving that they decode to the same pixels. Run it
under lic 0.1 (the last commit writing format version 1) and under lic 0.2.0 (format version 2,
before the coding tiles), each with today's weights and cards copied into it (both load 16-bit
weights with load_state_dict, which upcasts them as lic does):

    git worktree add --detach /tmp/lic-0.1 b4c0644      # or /tmp/lic-0.2 35e3aff
    cp src/lic/weights/*.safetensors src/lic/weights/*.json /tmp/lic-0.1/src/lic/weights/
    PYTHONPATH=/tmp/lic-0.1/src python tests/data/make_old_files.py

The images are `tests.conftest.synthetic_photo` (repeated here: old conftests differ). The
version-2 file of 48×1104 pixels (1152 wide, padded) has y of 4×72 latents, two coding tiles
in version 3: it proves that version-2 streams are read as one grid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

import lic
from lic.bitstream import FORMAT_VERSION
from lic.codec import decode, encode, model_for

HERE = Path(__file__).resolve().parent
#: Per format version: (file stem, model, quality, height, width, seed, PIL mode)
FILES = {
    1: [
        ("v1-he2021-checkerboard-vr-q2.5", "he2021-checkerboard-vr", 2.5, 48, 72, 3, "RGB"),
        ("v1-bmshj2018-factorized-vr-q6-grey", "bmshj2018-factorized-vr", 6.0, 40, 56, 4, "L"),
    ],
    2: [
        ("v2-he2021-checkerboard-vr-q3.5-wide", "he2021-checkerboard-vr", 3.5, 48, 1104, 5, "RGB"),
        ("v2-bmshj2018-hyperprior-vr-q5", "bmshj2018-hyperprior-vr", 5.0, 72, 40, 6, "RGB"),
    ],
}


def synthetic_photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """tests.conftest.synthetic_photo."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack(
        [
            128 + 90 * np.sin(xx / 17 + rng.uniform(0, 6)),
            128 + 90 * np.cos(yy / 23 + rng.uniform(0, 6)),
            128 + 60 * np.sin((xx + yy) / 31),
        ],
        -1,
    )
    base[(xx - width / 2) ** 2 + (yy - height / 2) ** 2 < (min(height, width) / 4) ** 2] *= 0.5
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


def main() -> None:
    if FORMAT_VERSION not in FILES:
        raise SystemExit(
            f"lic {lic.__version__} writes format version {FORMAT_VERSION}: run 0.1 or 0.2"
        )
    for stem, name, quality, height, width, seed, mode in FILES[FORMAT_VERSION]:
        image = Image.fromarray(synthetic_photo(height, width, seed)).convert(mode)
        model, model_quality = model_for(name, quality)
        data = encode(model, image, model_quality)
        (HERE / f"{stem}.lic").write_bytes(data)
        decode(data).save(HERE / f"{stem}.png")
        print(f"{stem}.lic: {len(data)} bytes")


if __name__ == "__main__":
    main()
