"""What the decoders need from a causal LLM: embeddings in, hidden states, restricted logits.

`CausalLM` is a mixin over an object with `llm` (a transformers causal LM) and `tokenizer`;
`PalmE` (observations as tokens) and `TextLM` (the text-only baseline's plain prompt) share
it, so `StepDecoder` runs the same grammar-constrained decoding on both. `reduced_precision`
copies the LLM's transformer layers into bf16 for the planner's fast path: Gemma 3 as the
lean `fast_gemma.FastGemma3` forward, any other LLM as `ReducedPrecisionLM`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn


class CausalLM:
    """LLM helpers for a class that sets `self.llm`, `self.tokenizer` and `self.terminator`
    (the token id ending every step)."""

    llm: nn.Module
    terminator: int

    @property
    def device(self) -> torch.device:
        return self.llm.get_input_embeddings().weight.device

    def target_ids(self, step: str) -> list[int]:
        """Token ids of the answer after `Next:`: ` {step}` + the terminator."""
        return self.tokenizer.encode(" " + step, add_special_tokens=False) + [self.terminator]

    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        """The LLM's own (for Gemma: sqrt(hidden)-scaled) embeddings of token ids."""
        return self.llm.get_input_embeddings()(ids.to(self.device))

    def token_logits(self, hidden: torch.Tensor, ids: torch.Tensor | None = None) -> torch.Tensor:
        """LM-head scores (…, V) of hidden states, or only of token `ids` (…, len(ids)).

        Gathering rows of the output embedding keeps constrained decoding from scoring the
        whole 262k vocabulary.
        """
        head = self.llm.get_output_embeddings()
        weight = head.weight if ids is None else head.weight[ids]
        logits = hidden.to(weight.dtype) @ weight.T
        if getattr(head, "bias", None) is not None:
            logits = logits + (head.bias if ids is None else head.bias[ids])
        cap = getattr(self.llm.config, "final_logit_softcapping", None)
        return torch.tanh(logits / cap) * cap if cap else logits

    def hidden_states(self, embeds: torch.Tensor, attention_mask=None, cache=None,
                      use_cache: bool = False, position_ids: torch.Tensor | None = None):
        """Runs the LLM body (no LM head) on (B, T, H) embeddings after the cached positions.

        `attention_mask` is a (B, T) padding mask, or a dict of (B, 1, T, past + T) boolean
        masks by layer type (`full_attention`, `sliding_attention`) with their (B, T)
        `position_ids`, for token trees (`decoding.StepDecoder`).

        Returns:
            (last hidden states (B, T, H), the KV cache when `use_cache`, else None).
        """
        out = self.llm.get_decoder()(inputs_embeds=embeds, attention_mask=attention_mask,
                                     past_key_values=cache, use_cache=use_cache,
                                     position_ids=position_ids)
        return out.last_hidden_state, out.past_key_values


def native_bf16() -> bool:
    """Whether this CPU computes bf16 matmuls natively (oneDNN's bf16 check: AVX512 / AMX)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def fast_bf16(device: torch.device) -> bool:
    """Whether bf16 pays off on `device`: any accelerator, or a CPU with native bf16 (an
    AVX2-only CPU emulates it, ~65x slower than float32 for a training step)."""
    return device.type != "cpu" or native_bf16()


class ReducedPrecisionLM(CausalLM):
    """A `CausalLM`'s transformer layers copied into `dtype` (bf16: ~3x faster on a CPU with
    native bf16); the embedding table, the LM head and the rotary tables stay the original's,
    shared, not copied. Scores differ from the original's by float rounding (up to ~0.2 of
    a logit for Gemma 3 270M in bf16), so a decoder using it must check close calls
    (`StepDecoder.last_margin`) against the original.

    Args:
        exact: the model to copy (LoRA merged, if any: the copy is of the current weights).
        dtype: dtype of the copied layers.
    """

    def __init__(self, exact: CausalLM, dtype: torch.dtype = torch.bfloat16) -> None:
        self.llm, self.tokenizer, self.terminator = exact.llm, exact.tokenizer, exact.terminator
        self.dtype = dtype
        decoder = exact.llm.get_decoder()
        layers, embed = decoder.layers, decoder.embed_tokens
        decoder.layers, decoder.embed_tokens = nn.ModuleList(), None  # copied apart, not whole
        try:
            self.body = copy.deepcopy(decoder)  # norms, rotary tables, config: small
        finally:
            decoder.layers, decoder.embed_tokens = layers, embed
        # one layer at a time, so the copy never holds a second float32 model
        self.body.layers = nn.ModuleList(copy.deepcopy(layer).to(dtype) for layer in layers)
        self.body.norm.to(dtype)
        self.body.requires_grad_(False).eval()

    def hidden_states(self, embeds: torch.Tensor, attention_mask=None, cache=None,
                      use_cache: bool = False, position_ids: torch.Tensor | None = None):
        out = self.body(inputs_embeds=embeds.to(self.dtype), attention_mask=attention_mask,
                        past_key_values=cache, use_cache=use_cache, position_ids=position_ids)
        return out.last_hidden_state, out.past_key_values


class TextLM(nn.Module, CausalLM):
    """A frozen LLM reading a plain-text prompt (the `text_llm` baseline).

    Args:
        llm: a loaded (model, tokenizer) pair (`load_llm`).
        terminator: text ending each step in the prompt's examples (one token), e.g. a newline.
    """

    def __init__(self, llm, terminator: str = "\n") -> None:
        super().__init__()
        model, self.tokenizer = llm
        self.llm = model.requires_grad_(False).eval()
        ids = self.tokenizer.encode(terminator, add_special_tokens=False)
        if len(ids) != 1:
            raise ValueError(f"the step terminator {terminator!r} must be one token, got {ids}")
        self.terminator = ids[0]

        self._prefix: tuple[str, object] | None = None  # (text, its KV cache)

    @torch.no_grad()
    def prompt_embeds(self, text: str, bos: bool = True) -> torch.Tensor:
        """(1, T, H) embeddings of (BOS +) `text`."""
        ids: Sequence[int] = self.tokenizer.encode(text, add_special_tokens=False)
        if bos and self.tokenizer.bos_token_id is not None:
            ids = [self.tokenizer.bos_token_id, *ids]
        return self.embed_tokens(torch.tensor(ids))[None]

    @torch.no_grad()
    def prefix_cache(self, text: str):
        """A copy of the KV cache of BOS + `text`, computed once per distinct prefix (the
        few-shot examples do not change between decisions)."""
        if self._prefix is None or self._prefix[0] != text:
            _, cache = self.hidden_states(self.prompt_embeds(text), use_cache=True)
            self._prefix = (text, cache)
        return copy.deepcopy(self._prefix[1])
