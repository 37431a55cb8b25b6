"""FastGemma3: the lean Gemma 3 forward computes what transformers' Gemma 3 computes."""

from __future__ import annotations

import copy

import pytest
import torch

from embodied_mm.model.decoding import StepDecoder, build_trie, token_tree, tree_attention
from embodied_mm.model.fast_gemma import FastGemma3, KVCache, reduced_precision, supports
from embodied_mm.model.language_model import ReducedPrecisionLM, native_bf16


@pytest.fixture
def model(make_model):
    return make_model(inputs=("state", "robot"))


def _close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    torch.testing.assert_close(actual.float(), expected, atol=1e-4, rtol=1e-4)


def test_float32_copy_matches_transformers_with_and_without_a_cache(model):
    fast = FastGemma3(model, torch.float32)
    embeds = model.embed_tokens(torch.arange(3, 43))[None]
    exact, exact_cache = model.hidden_states(embeds, use_cache=True)
    mine, cache = fast.hidden_states(embeds, use_cache=True)
    _close(mine, exact)
    assert isinstance(cache, KVCache) and cache.get_seq_length() == 40
    # continuing from a cached prefix: the same states as reading everything at once
    more = model.embed_tokens(torch.arange(50, 57))[None]
    exact_more, _ = model.hidden_states(more, cache=exact_cache, use_cache=True)
    mine_more, cache = fast.hidden_states(more, cache=cache, use_cache=True)
    _close(mine_more, exact_more)
    _close(mine_more, fast.hidden_states(torch.cat([embeds, more], dim=1))[0][:, 40:])
    cache.crop(-7)
    assert cache.get_seq_length() == 40


def test_a_copied_prefix_cache_is_extended_and_cropped_without_touching_the_original(model):
    """The planner copies an instruction's prefix cache for each decision (sharing tensors)."""
    fast = FastGemma3(model, torch.float32)
    embeds = model.embed_tokens(torch.arange(3, 13))[None]
    _, prefix = fast.hidden_states(embeds, use_cache=True)
    keys = [k.clone() for k in prefix.keys]
    mine = copy.deepcopy(prefix)
    fast.hidden_states(model.embed_tokens(torch.arange(20, 26))[None], cache=mine,
                       use_cache=True)
    assert mine.get_seq_length() == 16
    mine.crop(-3)
    assert mine.get_seq_length() == 13 and prefix.get_seq_length() == 10
    assert all(torch.equal(a, b) for a, b in zip(prefix.keys, keys))


def test_sliding_layers_forget_positions_a_window_back(model):
    """The tiny LLM's sliding window is 64 positions: a 100-position prompt exercises it."""
    fast = FastGemma3(model, torch.float32)
    embeds = model.embed_tokens(torch.arange(3, 103))[None]
    window = model.llm.config.sliding_window
    assert embeds.shape[1] > window
    _close(fast.hidden_states(embeds)[0], model.hidden_states(embeds)[0])


def test_token_tree_masks_match_transformers(model):
    steps = ["pick(obj_1)", "pick(obj_2)", "place(obj_1)", "place(obj_2)", "done()"]
    tree = token_tree(build_trie(steps, model.target_ids))
    assert tree.tokens
    prefix = model.embed_tokens(torch.arange(3, 13))[None]
    prompt = model.embed_tokens(torch.arange(20, 30))[None]
    embeds = torch.cat([prompt, model.embed_tokens(torch.tensor(tree.tokens))[None]], dim=1)
    mask, positions = tree_attention(10, 10, tree)
    masks = {kind: mask for kind in set(model.llm.config.layer_types)}
    _, exact_cache = model.hidden_states(prefix, use_cache=True)
    exact, _ = model.hidden_states(embeds, attention_mask=masks, cache=exact_cache,
                                   use_cache=True, position_ids=positions)
    fast = FastGemma3(model, torch.float32)
    _, cache = fast.hidden_states(prefix, use_cache=True)
    mine, _ = fast.hidden_states(embeds, attention_mask=masks, cache=copy.deepcopy(cache),
                                 use_cache=True, position_ids=positions)
    _close(mine, exact)


def test_decoder_on_the_fast_copy_chooses_the_models_steps(model, make_obs):
    names = [f"obj_{k}" for k in range(1, 5)]
    exact, fast = StepDecoder(model), StepDecoder(FastGemma3(model, torch.float32))
    for seed in range(4):
        embeds = model.embed_tokens(torch.randint(3, 2000, (30,),
                                                  generator=torch.Generator().manual_seed(seed)))
        assert fast.decode(embeds[None], names) == exact.decode(embeds[None], names)


def test_the_copy_leaves_the_model_alone_and_refuses_other_llms(model):
    before = {name: p.clone() for name, p in model.llm.named_parameters()}
    # bf16 weights need a CPU with native bf16 (oneDNN refuses to pack them on plain AVX2)
    dtype = torch.bfloat16 if native_bf16() else torch.float32
    FastGemma3(model, dtype)
    assert all(torch.equal(p, before[name]) for name, p in model.llm.named_parameters())
    assert supports(model.llm)
    model.llm.config.attn_logit_softcapping = 50.0  # a forward this class does not compute
    try:
        assert not supports(model.llm)
        with pytest.raises(ValueError, match="not a Gemma 3 text model"):
            FastGemma3(model)
        assert isinstance(reduced_precision(model, dtype), ReducedPrecisionLM)
    finally:
        model.llm.config.attn_logit_softcapping = None
    assert isinstance(reduced_precision(model, dtype), FastGemma3)


@pytest.mark.skipif(not native_bf16(), reason="this CPU has no native bf16")
def test_bf16_copy_stays_near_the_float32_model(model):
    embeds = model.embed_tokens(torch.arange(3, 40))[None]
    exact, approx = model.hidden_states(embeds)[0], FastGemma3(model).hidden_states(embeds)[0]
    assert approx.dtype == torch.bfloat16
    torch.testing.assert_close(approx.float(), exact, atol=0.1 * exact.abs().max().item(),
                               rtol=0.05)


def test_unmerged_lora_is_copied_by_the_generic_path_merged_by_the_lean_one(make_model):
    model = make_model(inputs=("state", "robot"), lora=True)
    with torch.no_grad():  # a LoRA that changes the outputs (B starts at zero)
        for name, param in model.llm.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.05)
    embeds = model.embed_tokens(torch.arange(3, 30))[None]
    exact = model.hidden_states(embeds)[0]
    assert not supports(model.llm)
    assert isinstance(reduced_precision(model, torch.float32), ReducedPrecisionLM)
    model.merge_lora()
    fast = reduced_precision(model, torch.float32)
    assert isinstance(fast, FastGemma3)
    _close(fast.hidden_states(embeds)[0], exact)
