"""Encoders: token counts and widths, output scale, padding independence."""

from __future__ import annotations

import pytest
import torch

from embodied_mm.model.encoders import ENCODERS, OBJ, build_encoder
from embodied_mm.model.features import collate, extract

D_LLM, RMS = 48, 1.7
TOKENS = {"state": 3 * 4, "objects": 3 * 4, "image": 4, "robot": 1}  # 4 packed per object
WORDS = {"color": torch.randn(10, D_LLM), "kind": torch.randn(2, D_LLM),
         "row": torch.randn(10, D_LLM), "column": torch.randn(10, D_LLM)}


def make(name: str, **kwargs):
    words = WORDS if ENCODERS[name].placeholder == OBJ else None
    return build_encoder(name, D_LLM, RMS, width=32, words=words, **kwargs)


@pytest.fixture
def batch(make_obs):
    return collate([extract(make_obs(3, seed=1)), extract(make_obs(2, seed=2))])


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_shapes_and_output_scale(name, batch):
    encoder = make(name, image_tokens=4)
    out, logits = encoder(batch)
    assert out.shape == (2, TOKENS[name], D_LLM)
    if ENCODERS[name].placeholder == OBJ:
        assert set(logits) == set(WORDS)
        out = out.reshape(2, 3, 4, D_LLM)[:, :, 3]  # the free vector has a position alone
    else:
        assert logits == {}
    rms = out.pow(2).mean(-1).sqrt()
    torch.testing.assert_close(rms, torch.full_like(rms, RMS), rtol=1e-3, atol=1e-3)
    out.sum().backward()
    assert all(p.grad is not None for p in encoder.parameters())


@pytest.mark.parametrize("name", ["state", "objects"])
def test_object_tokens_ignore_padding(name, make_obs):
    torch.manual_seed(0)
    encoder = make(name)
    alone = collate([extract(make_obs(2, seed=3))])
    padded = collate([extract(make_obs(2, seed=3)), extract(make_obs(5, seed=4))])
    torch.testing.assert_close(encoder(alone)[0][0], encoder(padded)[0][0, :2 * 4])


@pytest.mark.parametrize("name", ["state", "objects"])
def test_word_anchored_object_tokens(name, batch):
    encoder = make(name)
    out, logits = encoder(batch)
    assert logits["color"].shape == (2, 3, 10) and logits["kind"].shape == (2, 3, 2)
    tokens = out.reshape(2, 3, 4, D_LLM)
    colour = logits["color"].softmax(-1) @ WORDS["color"]  # a mean of the colour words
    kind = logits["kind"].softmax(-1) @ WORDS["kind"]
    torch.testing.assert_close(tokens[:, :, 0], (colour + kind) / 2 ** 0.5)  # packed together
    row = logits["row"].softmax(-1) @ WORDS["row"]
    torch.testing.assert_close(tokens[:, :, 1], row)
    assert "words_color" not in encoder.state_dict()  # the LLM's, never saved with ours


def test_bad_encoder_arguments():
    with pytest.raises(ValueError, match="square"):
        build_encoder("image", D_LLM, RMS, image_tokens=3)
    with pytest.raises(ValueError, match="unknown input 'vit'"):
        build_encoder("vit", D_LLM, RMS)
    with pytest.raises(ValueError, match="pass `words`"):
        build_encoder("state", D_LLM, RMS)
