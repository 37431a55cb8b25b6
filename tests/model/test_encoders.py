"""Encoders: token counts and widths, output scale, padding independence."""

from __future__ import annotations

import pytest
import torch

from embodied_mm.model.encoders import ENCODERS, build_encoder
from embodied_mm.model.features import collate, extract

D_LLM, RMS = 48, 1.7
TOKENS = {"state": 3, "objects": 3, "image": 4, "robot": 1}  # free object tokens: 1/object


@pytest.fixture
def batch(make_obs):
    return collate([extract(make_obs(3, seed=1)), extract(make_obs(2, seed=2))])


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_shapes_and_output_scale(name, batch):
    encoder = build_encoder(name, D_LLM, RMS, width=32, image_tokens=4)
    out, logits = encoder(batch)
    assert logits == {}
    assert out.shape == (2, TOKENS[name], D_LLM)
    rms = out.pow(2).mean(-1).sqrt()
    torch.testing.assert_close(rms, torch.full_like(rms, RMS), rtol=1e-3, atol=1e-3)
    out.sum().backward()
    assert all(p.grad is not None for p in encoder.parameters())


@pytest.mark.parametrize("name", ["state", "objects"])
def test_object_tokens_ignore_padding(name, make_obs):
    torch.manual_seed(0)
    encoder = build_encoder(name, D_LLM, RMS, width=32)
    alone = collate([extract(make_obs(2, seed=3))])
    padded = collate([extract(make_obs(2, seed=3)), extract(make_obs(5, seed=4))])
    torch.testing.assert_close(encoder(alone)[0][0], encoder(padded)[0][0, :2])


@pytest.mark.parametrize("name", ["state", "objects"])
def test_word_anchored_object_tokens(name, batch):
    words = {"color": torch.randn(10, D_LLM), "kind": torch.randn(2, D_LLM)}
    encoder = build_encoder(name, D_LLM, RMS, width=32, words=words)
    out, logits = encoder(batch)
    assert out.shape == (2, 3 * 3, D_LLM)  # per object: colour, kind, free
    assert logits["color"].shape == (2, 3, 10) and logits["kind"].shape == (2, 3, 2)
    tokens = out.reshape(2, 3, 3, D_LLM)
    expected = logits["color"].softmax(-1) @ words["color"]  # a mean of the colour words
    torch.testing.assert_close(tokens[:, :, 0], expected)
    assert "words_color" not in encoder.state_dict()  # the LLM's, never saved with ours


def test_bad_encoder_arguments():
    with pytest.raises(ValueError, match="square"):
        build_encoder("image", D_LLM, RMS, image_tokens=3)
    with pytest.raises(ValueError, match="unknown input 'vit'"):
        build_encoder("vit", D_LLM, RMS)
