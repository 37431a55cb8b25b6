"""LLM backends: names, offline loading, the cache location, atomic conversion."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from embodied_mm.model import llm
from embodied_mm.model.llm import cache_dir, load_llm


def test_tiny_is_a_small_gemma3_with_the_gemma_tokenizer(tiny_llm):
    model, tokenizer = tiny_llm
    assert type(model).__name__ == "Gemma3ForCausalLM"
    assert model.config.hidden_size == 64 and model.config.num_hidden_layers == 2
    assert model.config.vocab_size == len(tokenizer) == 262144
    assert tokenizer.encode(" pick(obj_2)", add_special_tokens=False)[0] == 4351  # " pick"


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown LLM 'no-such/model'.*gemma3-270m, tiny"):
        load_llm("no-such/model")


def test_local_directory_loads_offline(tiny_llm, tmp_path):
    model, tokenizer = tiny_llm
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded, loaded_tokenizer = load_llm(str(tmp_path))
    assert torch.equal(loaded.get_input_embeddings().weight, model.get_input_embeddings().weight)
    assert loaded_tokenizer.eos_token_id == tokenizer.eos_token_id


def test_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "embodied_mm" / "llm"


def test_interrupted_conversion_leaves_no_cache(tmp_path):
    def assemble(path):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"half a file")
        raise KeyboardInterrupt  # the user pressed Ctrl-C mid-way

    package = SimpleNamespace(assemble=assemble, MODEL_NAME="m.gguf", EXPECTED_SHA256="0")
    target = tmp_path / "llm" / llm.GEMMA
    with pytest.raises(KeyboardInterrupt):
        llm._convert_gemma(package, target)
    assert list((tmp_path / "llm").iterdir()) == []  # no target, no temp leftovers


@pytest.mark.slow
def test_random_gemma_has_gemmas_shape_not_its_weights():
    real, tokenizer = load_llm("gemma3-270m")
    random, random_tokenizer = load_llm("gemma3-270m-random")
    assert random.config.to_dict() == real.config.to_dict()
    assert random_tokenizer.encode("pick(obj_2)") == tokenizer.encode("pick(obj_2)")
    a, b = real.get_input_embeddings().weight, random.get_input_embeddings().weight
    assert a.shape == b.shape and not torch.allclose(a[:100], b[:100])
