"""The front door (lic.api, `import lic`) and the Pillow plugin: every input type, one path."""

import io
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import lic
from lic.codec import LicWarning, encode, model_for
from lic.defaults import DEFAULT_MODEL
from lic.models import Checkerboard, FactorizedPrior
from tests.conftest import synthetic_photo, tiny

PHOTO = synthetic_photo(40, 56)
MODEL = "bmshj2018-factorized-vr"  # shipped, small and fast


def _same_file(data: bytes, image: Image.Image) -> bool:
    model, quality = model_for(MODEL, 3.0)
    return data == encode(model, image, quality)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Image.fromarray(PHOTO),
        lambda: PHOTO,
        lambda: PHOTO.astype(np.float32) / 255,
        lambda: torch.from_numpy(PHOTO).permute(2, 0, 1).float() / 255,
        lambda: torch.from_numpy(PHOTO).permute(2, 0, 1)[None].float() / 255,
    ],
    ids=["pil", "uint8", "float", "tensor", "batch-of-one"],
)
def test_every_input_type_gives_the_file_of_the_same_image(make):
    data = lic.compress(make(), model=MODEL, quality=3.0)
    assert _same_file(data, Image.fromarray(PHOTO))


def test_paths_bytes_and_uint16_arrays(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(PHOTO).save(path)
    expected = lic.compress(Image.fromarray(PHOTO), model=MODEL, quality=3.0)
    assert lic.compress(path, model=MODEL, quality=3.0) == expected
    assert lic.compress(str(path), model=MODEL, quality=3.0) == expected
    assert lic.compress(path.read_bytes(), model=MODEL, quality=3.0) == expected
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        deep = lic.compress(PHOTO.astype(np.uint16) * 257, model=MODEL, quality=3.0)
    assert deep == expected and any(issubclass(w.category, LicWarning) for w in caught)
    grey = lic.decompress(lic.compress(PHOTO[:, :, 0], model=MODEL, quality=3.0), array=True)
    assert grey.shape == (40, 56) and grey.dtype == np.uint8


@pytest.mark.parametrize(
    "bad,words",
    [
        ([1, 2, 3], "cannot compress a list: pass a PIL image"),
        (np.zeros((4, 4, 2), np.uint8), "shape (4, 4, 2)"),
        (np.zeros((4, 4), np.int64), "int64"),
        (np.full((4, 4), 1.5), "in [0, 1]"),
        (torch.zeros(2, 3, 8, 8), "shape [2, 3, 8, 8]"),
        (torch.zeros(3, 8, 8, dtype=torch.uint8), "torch.uint8"),
    ],
)
def test_wrong_inputs_name_what_is_accepted(bad, words):
    with pytest.raises(lic.LicError, match=re.escape(words)):
        lic.compress(bad, model=MODEL)


def test_decompress_info_and_targets(tmp_path):
    data = lic.compress(PHOTO, model=MODEL, size=400)
    assert len(data) <= 400
    path = tmp_path / "x.lic"
    path.write_bytes(data)
    for source in (data, path, str(path)):
        image = lic.decompress(source)
        assert isinstance(image, Image.Image) and image.size == (56, 40)
        assert lic.info(source).model == MODEL and lic.info(source).width == 56
    assert lic.decompress(data, array=True).shape == (40, 56, 3)
    with pytest.raises(lic.LicError, match="one of quality"):
        lic.compress(PHOTO, model=MODEL, quality=3, size=400)


def test_the_model_list():
    listed = {m.name: m for m in lic.models()}
    default = listed[DEFAULT_MODEL]
    assert default.shipped and default.variable_rate and default.qualities == (0, 8)
    assert len(default.kodak["bpp"]) == len(default.kodak["psnr-rgb"]) >= 9
    assert listed["he2021-checkerboard"].folded == (1, 2, 3, 4)
    assert not listed["mbt2018"].shipped and listed["mbt2018"].kodak is None


def test_import_lic_does_not_import_torch_and_registers_the_plugin():
    code = (
        "import sys, lic; from PIL import Image; "
        "print('torch' in sys.modules, Image.registered_extensions()['.lic'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "LIC"]


def test_pillow_opens_and_saves_lic_files(tmp_path):
    path = tmp_path / "photo.lic"
    Image.fromarray(PHOTO).save(path, model=MODEL, quality=4.5)
    assert _same_file(path.read_bytes(), Image.fromarray(PHOTO)) is False  # quality 4.5, not 3
    assert path.read_bytes() == lic.compress(PHOTO, model=MODEL, quality=4.5)
    opened = Image.open(path)
    assert (opened.format, opened.size, opened.mode) == ("LIC", (56, 40), "RGB")
    assert np.array_equal(np.asarray(opened), np.asarray(lic.decompress(path)))
    buffer = io.BytesIO()
    opened.save(buffer, "PNG")
    assert Image.open(buffer).size == (56, 40)


def test_pillow_refuses_a_broken_lic_file(tmp_path):
    path = tmp_path / "broken.lic"
    path.write_bytes(lic.compress(PHOTO, model=MODEL)[:-9])
    with pytest.raises(Image.UnidentifiedImageError):
        Image.open(path)


@pytest.mark.parametrize("cls", [FactorizedPrior, Checkerboard])
def test_a_batch_is_refused_never_coded_into_fewer_images(cls):
    model = tiny(cls)
    x = torch.rand(2, 3, 64, 64)
    with pytest.raises(lic.LicError, match="one image"):
        model.compress(x)
    for image in x:  # one at a time, each comes back
        compressed = model.compress(image[None])
        assert model.decompress(compressed.streams, compressed.shapes).shape == (1, 3, 64, 64)


@pytest.mark.parametrize("mode", [torch.inference_mode, torch.no_grad])
def test_models_load_and_code_under_inference_mode_and_no_grad(mode):
    with mode():
        model = lic.load(MODEL)
        data = encode(model, Image.fromarray(PHOTO), 3.0)
        assert lic.decompress(data).size == (56, 40)


def test_compressing_needs_neither_the_eval_nor_the_train_extras(tmp_path):
    """`pip install lic` without [eval]/[train]: matplotlib and pytorch-msssim absent."""
    path = tmp_path / "photo.png"
    Image.fromarray(PHOTO).save(path)
    code = (
        "import sys; sys.modules['matplotlib'] = sys.modules['pytorch_msssim'] = None\n"
        "from lic.cli import main\n"
        f"assert main(['compress', {str(path)!r}, '--size', '600', '-q']) == 0\n"
        f"assert main(['decompress', {str(path.with_suffix('.lic'))!r}, '-q']) == 0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
    assert path.with_suffix(".decoded.png").exists()
