"""Image ↔ .lic bytes through lic.codec: sizes, colour modes, and foreign files."""

import copy
import io
import pickle
import warnings

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms, ImageOps

from lic.codec import LicWarning, decode, encode, image_to_tensor, model_for, save_image
from lic.errors import LicError
from lic.evaluate.metrics import psnr
from lic.models import ScaleHyperprior
from lic.models.registry import weights_digest
from tests.conftest import synthetic_photo, tiny


@pytest.mark.parametrize("size", [(67, 131), (1, 1), (2, 300)])
def test_any_size_round_trips_to_the_same_size(tiny_model, size):
    image = Image.fromarray(synthetic_photo(*size))
    decoded = decode(encode(tiny_model, image), tiny_model)
    assert decoded.size == image.size and decoded.mode == "RGB"


def test_decoded_image_is_the_models_reconstruction(photo):
    model = tiny(ScaleHyperprior)
    x, _ = image_to_tensor(photo)
    padded = torch.nn.functional.pad(
        x, (0, -x.shape[3] % 64, 0, -x.shape[2] % 64), mode="replicate"
    )
    with torch.no_grad():
        expected = model(padded).x_hat.clamp(0, 1)[:, :, : x.shape[2], : x.shape[3]]
    decoded = np.array(decode(encode(model, photo), model))
    assert np.array_equal(decoded, torch.round(expected[0] * 255).byte().permute(1, 2, 0).numpy())


def test_greyscale_comes_back_greyscale(tiny_model):
    image = Image.fromarray(synthetic_photo(40, 50)[:, :, 0], "L")
    decoded = decode(encode(tiny_model, image), tiny_model)
    assert decoded.mode == "L" and decoded.size == (50, 40)


def test_alpha_and_16_bit_inputs_are_converted_with_a_warning(tiny_model):
    rgba = Image.fromarray(np.dstack([synthetic_photo(20, 30), np.full((20, 30), 128, np.uint8)]))
    deep = Image.fromarray(synthetic_photo(20, 30)[:, :, 0].astype(np.uint16) * 257)
    for image, mode in ((rgba, "RGB"), (deep, "L")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            decoded = decode(encode(tiny_model, image), tiny_model)
        assert any(issubclass(w.category, LicWarning) for w in caught)
        assert decoded.mode == mode


def test_a_file_from_other_weights_or_another_model_is_refused(photo):
    model = tiny(ScaleHyperprior)
    data = encode(model, photo)
    with pytest.raises(LicError, match="weights"):
        decode(data, tiny(ScaleHyperprior, seed=1))
    other = tiny(ScaleHyperprior)
    other.name = "another-model"
    with pytest.raises(LicError, match="written by"):
        decode(data, other)


def test_a_model_that_has_coded_copies_and_pickles(tiny_model, photo):
    """Its coder tables (constriction objects, which do not pickle) stay behind and are rebuilt:
    the copy, and the model unpickled, write the same file."""
    data = encode(tiny_model, photo, 3.0 if tiny_model.variable_rate else None)
    for other in (copy.deepcopy(tiny_model), pickle.loads(pickle.dumps(tiny_model))):
        assert encode(other, photo, 3.0 if other.variable_rate else None) == data
        assert np.array_equal(np.asarray(decode(data, other)), np.asarray(decode(data, tiny_model)))


def test_float_images_in_unit_range_are_scaled_to_8_bits(tiny_model):
    grey = synthetic_photo(20, 30)[:, :, 0]
    image = Image.fromarray(grey.astype(np.float32) / 255)  # mode "F", values in [0, 1]
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        x, mode = image_to_tensor(image)
    assert mode == "L"
    assert torch.allclose(x[0, 0] * 255, torch.from_numpy(grey).float(), atol=0.5)


def test_the_weights_digest_is_memoized_until_a_weight_changes():
    model = tiny(ScaleHyperprior)
    digest = weights_digest(model)
    original = {k: v.clone() for k, v in model.state_dict().items()}
    assert weights_digest(model) == digest
    with torch.no_grad():
        model.synthesis[0].weight.add_(1e-3)  # in place
    changed = weights_digest(model)
    assert changed != digest
    model.load_state_dict(original)
    assert weights_digest(model) == digest
    model.synthesis[0].weight.data = model.synthesis[0].weight.data + 1e-3  # new storage
    assert weights_digest(model) == changed


def _phone_photo(orientation: int = 6) -> Image.Image:
    """A JPEG as a phone writes it: stored sideways with an EXIF orientation, an ICC profile
    and XMP."""
    stored = Image.fromarray(synthetic_photo(48, 80))  # 80 wide, 48 high as stored
    exif = stored.getexif()
    exif[0x0112], exif[0x010F] = orientation, "Phone"
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=95, exif=exif, icc_profile=ICC, xmp=XMP)
    return Image.open(io.BytesIO(buffer.getvalue()))


ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'


@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_a_phone_photo_decodes_upright_with_its_metadata(orientation):
    model, quality = model_for("bmshj2018-factorized-vr", 8.0)  # trained: the picture survives
    photo = _phone_photo(orientation)
    decoded = decode(encode(model, photo, quality), model)
    upright = ImageOps.exif_transpose(photo)
    assert decoded.size == upright.size == ((80, 48) if orientation == 3 else (48, 80))
    assert psnr(np.asarray(upright), np.asarray(decoded)) > 30
    assert decoded.info["icc_profile"] == ICC and decoded.info["xmp"] == XMP
    exif = Image.Exif()
    exif.load(decoded.info["exif"])
    assert exif[0x010F] == "Phone" and exif.get(0x0112, 1) == 1  # displays as it is


def test_metadata_survives_into_every_output_format(tiny_model):
    decoded = decode(encode(tiny_model, _phone_photo()), tiny_model)
    for fmt in ("PNG", "JPEG", "WEBP"):
        buffer = io.BytesIO()
        save_image(decoded, buffer, fmt)
        written = Image.open(io.BytesIO(buffer.getvalue()))
        assert written.format == fmt and written.info["icc_profile"] == ICC
        assert written.getexif()[0x010F] == "Phone"
        assert XMP.decode() in (written.info.get("xmp") or b"").decode()


def test_stripped_files_carry_no_metadata(tiny_model):
    photo = _phone_photo()
    full, stripped = encode(tiny_model, photo), encode(tiny_model, photo, metadata=False)
    assert len(full) - len(stripped) > len(ICC) + len(XMP)
    decoded = decode(stripped, tiny_model)
    assert decoded.size == (48, 80) and not decoded.info


def test_an_icc_tagged_png_keeps_its_profile(tiny_model):
    buffer = io.BytesIO()
    Image.fromarray(synthetic_photo(30, 40)).save(buffer, "PNG", icc_profile=ICC)
    decoded = decode(encode(tiny_model, Image.open(buffer)), tiny_model)
    assert decoded.info == {"icc_profile": ICC}
