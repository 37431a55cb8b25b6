"""The PaLM-E planner: a trained `PalmE` checkpoint + grammar-constrained decoding.

Each decision encodes the current observation into the multimodal sentence and decodes one
step that is valid for the scene's objects, so the executor never receives unparseable text.
torch and transformers load when the planner is built, not when this module is imported.

Example:
    embodied-mm run task=pick_place planner=palme planner.checkpoint=checkpoints/palme-gemma270m
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from embodied_mm.config.schema import PlannerConfig
from embodied_mm.paths import share_dir
from embodied_mm.planner.base import Planner, PlannerError
from embodied_mm.types import Observation, SkillCall

if TYPE_CHECKING:
    from embodied_mm.model.decoding import StepScope
    from embodied_mm.model.palme import PalmE

DEFAULT_CHECKPOINT = "checkpoints/palme-gemma270m"


class PalmePlanner(Planner):
    """Plans with a `PalmE` model; reads camera images when its inputs need them.

    Fast path (`fast_dtype`, bf16 by default where the CPU computes bf16 natively): a copy of
    the LLM's transformer layers in that dtype decides each step (~3x faster than float32),
    and any decision with a close call, a branching point where the best allowed token beats
    the runner-up by less than `verify_margin` logits, is decided again by the model itself.
    bf16 moves Gemma 3 270M's step scores by at most ~0.2 logits, so with the default 0.5
    every step is the one the float32 model chooses; `rechecked` counts the decisions that
    needed the second pass (typically 10-20%).

    Args:
        model: the trained model (see `from_config` to load one from a checkpoint).
        merge_lora: fold the model's LoRA, if any, into the LLM's weights (`PalmE.merge_lora`;
            faster, and the planner only runs inference). False leaves the model as trained.
        fast_dtype: dtype of the fast path's layers (`bfloat16`), or None for no fast path.
            Ignored (no fast path) on a CPU without native bf16, where it would be slower,
            and when the model already runs in it.
        verify_margin: logits; decisions closer than this are re-decided by `model`.
        feasible_only: decode only steps the executor would start in the observed scene
            (`StepScope.of`: no pick/push of a bowl, no place of the held block on
            itself); False lets the model name any object anywhere.
        cannot_bias: logits taken off `cannot()` where a step begins (`StepDecoder`): > 0
            refuses less, < 0 more; None takes the model's own (`PalmEConfig.cannot_bias`).
    """

    def __init__(self, model: PalmE, merge_lora: bool = True,
                 fast_dtype: str | None = "bfloat16", verify_margin: float = 0.5,
                 feasible_only: bool = True, cannot_bias: float | None = None) -> None:
        import torch

        from embodied_mm.model.decoding import StepDecoder
        from embodied_mm.model.fast_gemma import reduced_precision
        from embodied_mm.model.language_model import fast_bf16
        from embodied_mm.model.llm import release_freed_memory

        if merge_lora and model.config.lora and not model.merged:
            model.merge_lora()
        self.model = model.eval()
        if cannot_bias is None:
            cannot_bias = model.config.cannot_bias
        self.decoder = StepDecoder(model, cannot_bias=cannot_bias)
        self.needs_images = model.config.needs_images
        self.verify_margin = verify_margin
        self.feasible_only = feasible_only
        dtype = getattr(torch, fast_dtype) if fast_dtype else None
        useful = dtype is not None and dtype != model.llm.dtype and fast_bf16(model.device)
        self.fast_decoder = (StepDecoder(reduced_precision(model, dtype), cannot_bias=cannot_bias)
                             if useful else None)
        release_freed_memory()  # loading's temporaries (weight copies)
        self.decisions = self.rechecked = 0
        self._prefix: dict[int, tuple[str, object]] = {}  # decoder id → (instruction, KV cache)
        self._prefix_embeds: tuple[str, object] | None = None  # (instruction, (P, H) embeds)

    @classmethod
    def from_config(cls, cfg: PlannerConfig) -> PalmePlanner:
        """Loads `cfg.checkpoint` (default `checkpoints/palme-gemma270m`).

        Reads the optional fields `checkpoint`, `llm` (override of the checkpoint's LLM name or
        path; the LLM is still checked against the checkpoint), `device`, `dtype`,
        `fast_dtype`, `verify_margin`, `feasible_only` and `cannot_bias`.
        """
        from embodied_mm.model.palme import CheckpointError, PalmE

        path = resolve_checkpoint(cfg.checkpoint or DEFAULT_CHECKPOINT)
        try:
            model = PalmE.from_checkpoint(path, llm=cfg.llm, dtype=cfg.dtype)
        except CheckpointError as err:
            raise PlannerError(str(err)) from err
        return cls(model.to(cfg.device or "cpu"), fast_dtype=cfg.fast_dtype,
                   verify_margin=cfg.verify_margin, feasible_only=cfg.feasible_only,
                   cannot_bias=cfg.cannot_bias)

    def scope(self, obs: Observation) -> StepScope:
        """The objects each step may name in `obs` (see `feasible_only`)."""
        from embodied_mm.model.decoding import StepScope

        return StepScope.of(obs, self.feasible_only)

    def prompt_embeds(self, obs: Observation, done: Sequence[SkillCall]):
        """(1, T, H) sentence embeddings of this decision: features, encoders, text."""
        from embodied_mm.model.features import extract

        scene = extract(obs, images=self.needs_images, image_size=self.model.config.image_size)
        return self.model.prompt_embeds(scene, self.instruction, done)

    def next_step(self, obs: Observation, done: Sequence[SkillCall]) -> str:
        embeds, scope = self.prompt_embeds(obs, done), self.scope(obs)
        self.decisions += 1
        if self.fast_decoder is not None:
            step = self.decode_with(self.fast_decoder, embeds, scope)
            if self.fast_decoder.last_margin >= self.verify_margin:
                return step
            self.rechecked += 1
        return self.decode_with(self.decoder, embeds, scope)

    def decode_with(self, decoder, embeds, objects: StepScope | Sequence[str]) -> str:
        """The step `decoder` (the fast or the exact one) chooses for (1, T, H) `embeds`,
        running its LLM only after the instruction's cached prefix."""
        import torch

        prefix, cache = self.prefix_cache(decoder)
        if not torch.equal(embeds[0, :len(prefix)], prefix):  # cannot happen; never guess
            raise PlannerError("the prompt does not start with its cached prefix")
        return decoder.decode(embeds[:, len(prefix):], objects, cache=cache)

    def prefix_cache(self, decoder=None):
        """(embeddings (P, H) of the text every prompt of this instruction starts with, a copy
        of their KV cache under `decoder`'s LLM, by default the model's own): computed once
        per instruction, so each decision runs the LLM only on what changed (the whole `Task:`
        clause)."""
        import copy

        import torch

        decoder = decoder or self.decoder
        if self._prefix_embeds is None or self._prefix_embeds[0] != self.instruction:
            ids = self.model.plan_prefix_ids(self.instruction)  # tokenised once per instruction
            self._prefix_embeds = (self.instruction, self.model.embed_tokens(torch.tensor(ids)))
        embeds = self._prefix_embeds[1]
        cached = self._prefix.get(id(decoder))
        if cached is None or cached[0] != self.instruction:
            with torch.no_grad():
                _, cache = decoder.model.hidden_states(embeds[None], use_cache=True)
            self._prefix[id(decoder)] = cached = (self.instruction, cache)
        return embeds, copy.deepcopy(cached[1])


def resolve_checkpoint(path: str | Path) -> Path:
    """`path` as given if it is a directory, else relative to the project's share directory.

    Raises:
        PlannerError: neither is a directory.
    """
    for candidate in (Path(path), share_dir() / path):
        if candidate.is_dir():
            return candidate
    raise PlannerError(f"no PaLM-E checkpoint at {path} (nor under {share_dir()}); train one "
                       "with `embodied-mm train` or set planner.checkpoint=DIR")
