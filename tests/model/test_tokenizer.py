"""LeanTokenizer: the same ids and text as transformers' tokenizer for Gemma 3's files."""

from __future__ import annotations

import json
import shutil

import pytest

from embodied_mm.model.decoding import valid_steps
from embodied_mm.model.llm import gemma_cache, load_llm
from embodied_mm.model.tokenizer import LeanTokenizer, load_tokenizer


@pytest.fixture(scope="module")
def both():
    from transformers import AutoTokenizer

    path = gemma_cache()
    return LeanTokenizer(path), AutoTokenizer.from_pretrained(path, local_files_only=True)


def _texts() -> list[str]:
    """Every kind of text a planner tokenises: instructions of every family, plan steps, the
    prompt's clauses, and odd input an operator may type."""
    from embodied_mm.tasks import TASKS

    instructions = [task.sample(seed, template_id=t).instruction for task in TASKS.values()
                    for t in range(len(task.templates)) for seed in (0, 1)]
    steps = valid_steps([f"obj_{k}" for k in range(1, 12)])
    clauses = ["Task: put the red block in the blue bowl.", " Robot:", ". Done: nothing.",
               " Holding:", " Next:", "3", "10", " Q: what colour is it? A:"]
    odd = ["héllo  wörld\n\ttab", "  two leading spaces", "<bos> typed by hand", "", "日本語"]
    return instructions + [" " + step for step in steps] + clauses + odd


def test_ids_and_text_match_transformers(both):
    lean, wrapped = both
    assert (lean.bos_token_id, lean.eos_token_id, lean.pad_token_id) == (
        wrapped.bos_token_id, wrapped.eos_token_id, wrapped.pad_token_id)
    assert len(lean) == len(wrapped)
    for text in _texts():
        ids = lean.encode(text, add_special_tokens=False)
        assert ids == wrapped.encode(text, add_special_tokens=False), text
        assert lean.encode(text) == wrapped.encode(text), text  # with <bos>
        assert lean.decode(ids) == wrapped.decode(ids), text
        with_bos = lean.encode(text)
        assert lean.decode(with_bos, skip_special_tokens=True) == wrapped.decode(
            with_bos, skip_special_tokens=True), text


def test_the_backends_come_with_the_lean_tokenizer():
    assert isinstance(load_llm("tiny")[1], LeanTokenizer)


def test_a_special_token_missing_from_the_vocabulary_is_named(tmp_path):
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(gemma_cache() / name, tmp_path / name)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    config["eos_token"] = "<end-of-everything>"
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="eos_token '<end-of-everything>'"):
        load_tokenizer(tmp_path)
