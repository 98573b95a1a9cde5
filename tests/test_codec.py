"""Image ↔ .lic bytes through lic.codec: sizes, colour modes, and foreign files."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from lic.codec import LicWarning, decode, encode, image_to_tensor
from lic.errors import LicError
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
