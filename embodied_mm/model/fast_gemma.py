"""Gemma 3's transformer layers as a lean inference-only forward pass: the planner's fast path.

Transformers' Gemma 3 forward is written for every use (training, batching, generation,
kernels from the hub); a planner decision on two CPU cores pays for that generality on each
of its ~1,800 operator calls a pass (66 positions, torch profiler), and oneDNN re-lays out
every bf16 weight matrix on each matmul. `FastGemma3` copies the layers' weights once into
`dtype` and packs them for oneDNN (`torch.ops.mkldnn._reorder_linear_weight`), with q/k/v in
one matrix and GELU(gate) · up computed inside the two MLP matmuls (oneDNN post-ops), and
runs the same arithmetic in ~800 operator calls: the norms in float32 as Gemma's are (q and
k heads in one call), the rotary tables from the original model's own module, SDPA with
grouped K/V heads. On the 2-core bench machine this halves a 3-object decision
(docs/palme.md, "Lean Gemma 3 forward").

Its hidden states equal transformers' to float rounding (tests/model/test_fast_gemma.py
compares them in float32, with a KV cache, token-tree masks and the sliding window); in bf16
they differ like any bf16 copy, so the planner checks close calls against the original.
Only what `StepDecoder` uses is supported: (B, T, H) embeddings, an optional dict of boolean
masks by layer type with their positions, and `KVCache`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from embodied_mm.model.language_model import CausalLM, ReducedPrecisionLM

SUPPORTED_MODEL_TYPES = ("gemma3_text",)


def supports(llm: nn.Module) -> bool:
    """Whether `llm` is a Gemma 3 text model this forward reproduces (GELU-tanh MLP, no
    attention soft-capping, causal attention, no unmerged LoRA: it copies plain weights)."""
    config = llm.config
    return (getattr(config, "model_type", None) in SUPPORTED_MODEL_TYPES
            and config.hidden_activation == "gelu_pytorch_tanh"
            and config.attn_logit_softcapping is None
            and not getattr(config, "use_bidirectional_attention", False)
            and not any("lora_" in name for name, _ in llm.named_parameters()))


@dataclass
class KVCache:
    """Keys and values of the positions read so far, per layer, each (B, KV heads, S, D).

    The subset of transformers' `DynamicCache` the decoders use: `get_seq_length`, `crop`,
    and `copy.deepcopy` for a reusable prefix. Its tensors are never changed in place
    (`update` concatenates, `crop` slices), so a deep copy shares them: copying a prefix for
    each decision costs two lists, not 36 tensor copies.
    """

    keys: list[torch.Tensor] = field(default_factory=list)
    values: list[torch.Tensor] = field(default_factory=list)

    def get_seq_length(self) -> int:
        return self.keys[0].shape[2] if self.keys else 0

    def __deepcopy__(self, memo: dict) -> KVCache:
        return KVCache(list(self.keys), list(self.values))

    def crop(self, max_length: int) -> None:
        """Keeps the first `max_length` positions; a negative one drops that many from the end
        (as `DynamicCache.crop`)."""
        if max_length < 0:
            max_length = self.get_seq_length() + max_length
        self.keys = [k[:, :, :max_length] for k in self.keys]
        self.values = [v[:, :, :max_length] for v in self.values]

    def update(self, layer: int, keys: torch.Tensor, values: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Appends one layer's new positions; returns all of that layer's keys and values."""
        if layer == len(self.keys):
            self.keys.append(keys)
            self.values.append(values)
        else:
            self.keys[layer] = torch.cat([self.keys[layer], keys], dim=2)
            self.values[layer] = torch.cat([self.values[layer], values], dim=2)
        return self.keys[layer], self.values[layer]


class PackedLinear:
    """y = x @ W.T with W copied into `dtype` once and, on a CPU with oneDNN, packed in its
    preferred layout (a plain matmul re-packs a bf16 W on every call). `gelu` and `times`
    fuse what follows the matmul into oneDNN's kernel (no pass of their own over y)."""

    def __init__(self, weight: torch.Tensor, dtype: torch.dtype) -> None:
        weight = weight.detach().to(dtype).contiguous()
        self.packed = weight.device.type == "cpu" and torch.backends.mkldnn.is_available()
        self.weight = torch.ops.mkldnn._reorder_linear_weight(weight) if self.packed else weight

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed:
            return torch.ops.mkldnn._linear_pointwise(x, self.weight, None, "none", [], "")
        return F.linear(x, self.weight)

    def gelu(self, x: torch.Tensor) -> torch.Tensor:
        """GELU (tanh approximation) of x @ W.T."""
        if self.packed:
            return torch.ops.mkldnn._linear_pointwise(x, self.weight, None, "gelu", [], "tanh")
        return F.gelu(F.linear(x, self.weight), approximate="tanh")

    def times(self, x: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        """(x @ W.T) * other."""
        if self.packed:
            return torch.ops.mkldnn._linear_pointwise.binary(x, other, self.weight, None, "mul")
        return F.linear(x, self.weight) * other


class RMSNorm:
    """Gemma's RMS norm over the last dimension: in float32, scaled by (1 + weight), cast
    back to the input's dtype. Several norms' weights stacked (N, D) normalise N heads of a
    (…, N, D) input at once, each with its own."""

    def __init__(self, *norms: nn.Module) -> None:
        weight = torch.stack([norm.weight.detach().float() for norm in norms]).squeeze(0)
        self.scale = (1.0 + weight).contiguous()
        self.eps = norms[0].eps

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        # Gemma's own formula: on this CPU F.rms_norm runs it as more operator calls (~30 µs
        # slower a call, ~90 calls a pass) for the same float32 result.
        xf = x.float()
        inverse_rms = torch.rsqrt(xf.square().mean(-1, keepdim=True).add_(self.eps))
        return (xf * inverse_rms * self.scale).to(x.dtype)


class _Layer:
    """One decoder layer's packed weights and norms."""

    def __init__(self, layer: nn.Module, dtype: torch.dtype) -> None:
        attn, mlp = layer.self_attn, layer.mlp
        self.kind = attn.layer_type
        self.qkv = PackedLinear(torch.cat([attn.q_proj.weight, attn.k_proj.weight,
                                           attn.v_proj.weight]), dtype)
        self.o = PackedLinear(attn.o_proj.weight, dtype)
        self.gate, self.up = PackedLinear(mlp.gate_proj.weight, dtype), PackedLinear(
            mlp.up_proj.weight, dtype)
        self.down = PackedLinear(mlp.down_proj.weight, dtype)
        heads, kv_heads = attn.config.num_attention_heads, attn.config.num_key_value_heads
        self.qk_norm = RMSNorm(*[attn.q_norm] * heads, *[attn.k_norm] * kv_heads)
        self.input_norm = RMSNorm(layer.input_layernorm)
        self.post_attention_norm = RMSNorm(layer.post_attention_layernorm)
        self.pre_mlp_norm = RMSNorm(layer.pre_feedforward_layernorm)
        self.post_mlp_norm = RMSNorm(layer.post_feedforward_layernorm)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-second, first), dim=-1) * sin


class FastGemma3(CausalLM):
    """A Gemma 3 `CausalLM`'s layers as a lean forward in `dtype`; the embedding table, the
    LM head and the rotary tables stay the original's, shared, not copied.

    Args:
        exact: the model to copy (its current weights; LoRA must be merged first,
            `PalmE.merge_lora`); `supports(exact.llm)` must hold.
        dtype: dtype of the copied layers.
    """

    def __init__(self, exact: CausalLM, dtype: torch.dtype = torch.bfloat16) -> None:
        if not supports(exact.llm):
            raise ValueError(f"not a Gemma 3 text model this forward supports: "
                             f"{getattr(exact.llm.config, 'model_type', '?')}")
        self.llm, self.tokenizer, self.terminator = exact.llm, exact.tokenizer, exact.terminator
        self.dtype = dtype
        config = exact.llm.config
        decoder = exact.llm.get_decoder()
        self._rotary = decoder.rotary_emb
        self._layers = [_Layer(layer, dtype) for layer in decoder.layers]
        self._final_norm = RMSNorm(decoder.norm)
        self._heads, self._kv_heads = config.num_attention_heads, config.num_key_value_heads
        self._head_dim = config.head_dim
        self._scale = config.query_pre_attn_scalar ** -0.5
        self._window = config.sliding_window

    def _default_masks(self, past: int, length: int, positions: torch.Tensor
                       ) -> dict[str, torch.Tensor]:
        """Causal masks (1, 1, T, past + T); sliding layers also drop keys a window back."""
        query = positions[0, :, None]
        key = torch.arange(past + length, device=positions.device)[None]
        causal = key <= query
        masks = {"full_attention": causal,
                 "sliding_attention": causal & (query - key < self._window)}
        return {kind: mask[None, None] for kind, mask in masks.items()}

    @torch.no_grad()
    def hidden_states(self, embeds: torch.Tensor, attention_mask=None, cache=None,
                      use_cache: bool = False, position_ids: torch.Tensor | None = None):
        """As `CausalLM.hidden_states`; `attention_mask` is None (causal) or a dict of
        (B, 1, T, past + T) boolean masks by layer type, with their (B, T) `position_ids`.

        Returns:
            (last hidden states (B, T, H) in `dtype`, the `KVCache` when `use_cache`, else
            None).
        """
        if attention_mask is not None and not isinstance(attention_mask, dict):
            raise ValueError("FastGemma3 takes no padding mask: pass None or masks by layer type")
        cache = cache if cache is not None else KVCache()
        batch, length, _ = embeds.shape
        past = cache.get_seq_length()
        if position_ids is None:
            position_ids = torch.arange(past, past + length, device=embeds.device)[None]
        masks = attention_mask or self._default_masks(past, length, position_ids)
        x = embeds.to(self.dtype)
        rotary = {kind: tuple(t[:, :, None] for t in self._rotary(x, position_ids, kind))
                  for kind in masks}
        heads, kv_heads, dim = self._heads, self._kv_heads, self._head_dim
        for index, layer in enumerate(self._layers):
            qk, v = layer.qkv(layer.input_norm(x)).split(
                [(heads + kv_heads) * dim, kv_heads * dim], dim=-1)
            cos, sin = rotary[layer.kind]
            qk = _rotate(layer.qk_norm(qk.view(batch, length, heads + kv_heads, dim)), cos, sin)
            q, k = qk.transpose(1, 2).split([heads, kv_heads], dim=1)
            k, v = cache.update(index, k, v.view(batch, length, kv_heads, dim).transpose(1, 2))
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=masks[layer.kind],
                                                      scale=self._scale, enable_gqa=True)
            attended = attended.transpose(1, 2).reshape(batch, length, heads * dim)
            x = x + layer.post_attention_norm(layer.o(attended))
            normed = layer.pre_mlp_norm(x)
            x = x + layer.post_mlp_norm(layer.down(layer.up.times(normed, layer.gate.gelu(normed))))
        return self._final_norm(x), (cache if use_cache else None)


def reduced_precision(exact: CausalLM, dtype: torch.dtype = torch.bfloat16) -> CausalLM:
    """A copy of `exact`'s layers in `dtype` for a fast path: the lean `FastGemma3` forward
    for Gemma 3 (~1.5–2× faster on the 2-core Intel VM of 2026-12-02), else
    `ReducedPrecisionLM`."""
    return FastGemma3(exact, dtype) if supports(exact.llm) else ReducedPrecisionLM(exact, dtype)
