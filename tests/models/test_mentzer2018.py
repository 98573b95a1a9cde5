"""mentzer2018 (Mentzer et al. 2018): exact round trips through the importance mask, the coded
size at the context models' cross-entropy, and training that reaches the centres and the encoder
through the soft quantization while the context models train on their own cross-entropy."""

import math

import numpy as np
import pytest
import torch

from lic import catalog
from lic.codec import pad
from lic.errors import LicError
from lic.models import Mentzer2018
from lic.models.mentzer2018 import TARGET_BPP, importance_mask
from lic.train.loss import target_rate_loss
from tests.conftest import synthetic_photo, tiny


def _image(height: int, width: int, batch: int = 1) -> torch.Tensor:
    x = [synthetic_photo(height, width, seed) for seed in range(batch)]
    return pad(torch.from_numpy(np.stack(x)).permute(0, 3, 1, 2).float() / 255, 8)


def _spread(model: Mentzer2018, z: float = 3.0, importance: float = 30.0) -> Mentzer2018:
    """Scale E's latent (so it uses every centre) and its importance channel (so the counts
    range from 1 to M, masking about half the symbols)."""
    scale = torch.tensor([z] * model.M + [importance]).view(1, -1, 1, 1)
    model.analysis.register_forward_hook(lambda module, inputs, y: y * scale.to(y.dtype))
    return model


def test_the_importance_mask_keeps_the_first_ceil_y_channels_with_the_soft_masks_gradient():
    e = torch.tensor([[[-3.0, -0.2, 0.0, 0.7, 5.0]]], requires_grad=True)
    counts, mask = importance_mask(e, 6)
    y = 6 * torch.sigmoid(e.detach())
    assert torch.equal(counts, torch.ceil(y).long())
    k = torch.arange(6).view(1, -1, 1, 1)
    assert torch.equal(mask.detach(), (k < counts[:, None]).float())
    upstream = torch.randn(mask.shape)
    (mask * upstream).sum().backward()
    e_soft = e.detach().clone().requires_grad_()
    soft = (6 * torch.sigmoid(e_soft)[:, None] - k).clamp(0, 1)
    (soft * upstream).sum().backward()
    assert torch.allclose(e.grad, e_soft.grad) and e.grad.abs().min() > 0


@pytest.mark.parametrize("size", [(67, 131), (9, 23), (64, 64)])
@pytest.mark.parametrize("coding_tile", [None, 4, 64])
def test_round_trip_is_exact_with_masked_symbols_on_odd_sizes(size, coding_tile):
    model = _spread(tiny(Mentzer2018))
    x = _image(*size)
    with torch.no_grad():
        expected = model(x)
    compressed = model.compress(x, coding_tile=coding_tile)
    decoders = model.decoders(compressed.streams, compressed.shapes)
    z_hat = model.decode_latents(decoders, compressed.shapes, None, coding_tile)
    assert torch.equal(z_hat, expected.y_hat)
    counts = importance_mask(model.analyze(x, None)[:, model.M], model.M)[0]
    masked = ~(torch.arange(model.M).view(1, -1, 1, 1) < counts[:, None])
    if size != (9, 23):  # 2×3 positions: too few to be sure of both
        assert 0.2 < masked.float().mean() < 0.8  # both kinds of symbols are coded
    assert torch.all(z_hat[masked] == 0)
    x_hat = model.decompress(compressed.streams, compressed.shapes, coding_tile=coding_tile)
    assert torch.equal(x_hat, expected.x_hat.clamp(0, 1))


def _structured(model: Mentzer2018) -> Mentzer2018:
    """E's output replaced by a latent with structure for P to learn (every channel a shared
    field plus noise) and an importance map that varies from position to position."""

    def latent(module: torch.nn.Module, inputs: object, y: torch.Tensor) -> torch.Tensor:
        g = torch.Generator().manual_seed(3)
        field = 1.5 * torch.randn(y.shape[0], 1, *y.shape[2:], generator=g)
        z = field + 0.5 * torch.randn(y.shape[0], model.M, *y.shape[2:], generator=g)
        return torch.cat([z, 3 * torch.randn(field.shape, generator=g)], 1)

    model.analysis.register_forward_hook(latent)
    return model


def test_the_coded_size_is_the_context_models_cross_entropy():
    """Within 1% (+ the streams' end marks): P fitted to the latent's symbols first, so that
    its rows are far from uniform and a symbol coded under another's row would cost more."""
    model = _structured(tiny(Mentzer2018, seed=1))
    x = _image(512, 768)
    with torch.no_grad():
        y = model.analyze(x, None)
        symbols = model.quantizer.indices(y[:, : model.M])
        counts, mask = importance_mask(y[:, model.M], model.M)
        z_hat = torch.where(mask > 0, model.quantizer.values(symbols), 0.0)
    parts = [model.context_model, model.importance_model]
    optimizer = torch.optim.Adam([p for m in parts for p in m.parameters()], lr=0.03)
    for m in parts:
        m.train()
    for _ in range(60):
        bits = -torch.log2(model.context_model.likelihood(z_hat, symbols, mask)).sum()
        bits = bits - torch.log2(model.importance_model.likelihood(counts)).sum()
        optimizer.zero_grad()
        bits.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        likelihoods = model(x).likelihoods
    bits = {k: float(-torch.log2(p).sum()) for k, p in likelihoods.items()}
    assert bits["z"] < 0.75 * int(mask.sum()) * math.log2(model.L)  # P predicts the symbols
    streams = model.compress(x).streams
    for stream, key in zip(streams, ("z", "importance")):
        estimate = bits[key] / 8
        assert abs(len(stream) - estimate) <= 0.01 * estimate + 8, (key, len(stream), estimate)


def _step_gradients(model: Mentzer2018, part: str, target: float) -> dict[str, torch.Tensor]:
    """The gradients of the encoder's last layer, the centres and P's last layer after the
    backward of `part` of the objective: "distortion", "rate" (the auto-encoder's likelihoods)
    or "context" (the context models' own)."""
    model.zero_grad()
    x = _image(64, 64, batch=2)
    out = model(x)
    zero = {k: torch.ones_like(p) for k, p in out.likelihoods.items()}
    likelihoods = zero if part in ("distortion", "context") else out.likelihoods
    context = out.context_likelihoods if part == "context" else zero
    lmbda = torch.full((2,), 0.0 if part != "distortion" else 1e-3)
    loss, _, _ = target_rate_loss(out.x_hat, x, likelihoods, context, lmbda, target)
    loss.backward()
    grads = {
        "encoder": model.analysis[-1].weight.grad,
        "centres": model.quantizer.centres.grad,
        "context": model.context_model.network.last.weight.grad,
        "counts": model.importance_model.logits.grad,
    }
    return {k: torch.zeros(1) if g is None else g for k, g in grads.items()}


def test_a_training_step_moves_the_centres_and_the_encoder():
    """The distortion reaches E and the centres through the soft assignment (hard
    quantization alone passes no gradient); the step changes them."""
    model = _spread(tiny(Mentzer2018), z=1.0, importance=1.0).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grads = _step_gradients(model, "distortion", 0.0)
    assert grads["encoder"].abs().sum() > 0 and grads["centres"].abs().min() > 0
    torch.optim.Adam(model.parameters(), lr=1e-3).step()
    state = model.state_dict()
    assert not torch.equal(state["quantizer.centres"], before["quantizer.centres"])
    for layer in ("analysis.0.weight", "analysis.5.weight"):
        assert not torch.equal(state[layer], before[layer]), layer


def test_the_rate_trains_the_encoder_and_the_context_models_train_on_their_own():
    """The likelihoods the hinge uses send gradient to E and the centres, not to the context
    models; the context models' own likelihoods to them alone (sec. 3.3's concurrency)."""
    model = _spread(tiny(Mentzer2018), z=1.0, importance=1.0).train()
    rate = _step_gradients(model, "rate", 0.0)
    assert rate["encoder"].abs().sum() > 0 and rate["centres"].abs().sum() > 0
    assert rate["context"].abs().sum() == 0 and rate["counts"].abs().sum() == 0
    own = _step_gradients(model, "context", 0.0)
    assert own["encoder"].abs().sum() == 0 and own["centres"].abs().sum() == 0
    assert own["context"].abs().sum() > 0 and own["counts"].abs().sum() > 0
    below_target = _step_gradients(model, "rate", 1e6)  # the hinge is flat there
    assert below_target["encoder"].abs().sum() == 0


def test_every_quality_has_a_target_rate_from_0_2_to_0_8_bpp():
    assert sorted(TARGET_BPP) == sorted(catalog.MODELS["mentzer2018"].configs)
    assert min(TARGET_BPP.values()) <= 0.2 and max(TARGET_BPP.values()) >= 0.8
    assert tiny(Mentzer2018).target_bpp == TARGET_BPP[1]


def test_streams_of_another_image_are_refused():
    model = _spread(tiny(Mentzer2018))
    a = model.compress(_image(64, 64))
    b = model.compress(_image(64, 64)[:, :, :, :56] * 0.3)
    with pytest.raises(LicError):
        model.decompress([a.streams[0], b.streams[1]], a.shapes)
    with pytest.raises(LicError):
        model.decompress(a.streams, [(model.M + 1, 8, 8), (1, 8, 8)])
