"""`lic compare`: the detailed region, the size-matched classical files, the picture."""

import numpy as np
import pytest

from lic.evaluate.anchors import ANCHORS
from lic.evaluate.compare import (
    CROP,
    LABEL,
    Coded,
    classical_at_size,
    compare_picture,
    detailed_region,
)
from tests.conftest import synthetic_photo


def test_the_detailed_region_is_where_the_texture_is():
    rng = np.random.default_rng(0)
    image = np.full((400, 600, 3), 128, np.uint8)
    image[192:384, 48:240] = rng.integers(0, 256, (192, 192, 3))
    assert detailed_region(image) == (192, 48)


@pytest.mark.parametrize("name", ["jpeg-420", "webp", "avif"])
def test_the_classical_file_is_the_largest_that_fits(name):
    anchor = ANCHORS[name]
    if anchor.missing():
        pytest.skip(f"{name}: {', '.join(anchor.missing())} not installed (install-anchors.sh)")
    image = synthetic_photo(96, 128)
    target = 3000
    coded = classical_at_size(anchor, image, target)
    assert coded is not None and coded.size <= target and coded.decoded.shape == image.shape
    setting = int(coded.setting.split()[-1])
    first, last = anchor.search
    if setting != last:  # the next setting toward larger files no longer fits
        bigger = classical_at_size(anchor, image, coded.size)  # itself: the same or equal size
        assert bigger is not None and bigger.size == coded.size
        step = 1 if last > first else -1
        narrower = type(anchor)(**{**anchor.__dict__, "search": (setting + step, last)})
        over = classical_at_size(narrower, image, target)
        assert over is None
    assert classical_at_size(anchor, image, 10) is None


def test_the_picture_has_a_column_per_version_and_two_views():
    image = synthetic_photo(300, 400)
    versions = [Coded("a", 100, image, ""), Coded("b", 50, 255 - image, "")]
    picture = compare_picture(image, versions, "title")
    assert picture.size == (3 * CROP, LABEL + 2 * CROP + 18)
    top, left = detailed_region(image)
    crop = np.asarray(picture)[LABEL : LABEL + CROP, CROP : 2 * CROP]
    assert np.array_equal(crop, image[top : top + CROP, left : left + CROP])


def test_lic_compare_writes_the_picture_and_names_what_it_skipped(tmp_path):
    from PIL import Image

    from lic.cli import main

    photo = tmp_path / "photo.png"
    Image.fromarray(synthetic_photo(200, 240)).save(photo)
    out = tmp_path / "compare.png"
    assert main(["compare", str(photo), "-o", str(out), "--model", "bmshj2018-factorized-vr",
                 "--codec", "jpeg-420", "jpeg2000"]) == 0  # fmt: skip
    picture = Image.open(out)
    installed = [n for n in ("jpeg-420", "jpeg2000") if not ANCHORS[n].missing()]
    assert picture.width == (2 + len(installed)) * CROP and picture.height == LABEL + 2 * CROP + 18
