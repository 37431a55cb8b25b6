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
    from embodied_mm.model.palme import PalmE

DEFAULT_CHECKPOINT = "checkpoints/palme-gemma270m"


class PalmePlanner(Planner):
    """Plans with a `PalmE` model; reads camera images when its inputs need them.

    Args:
        model: the trained model (see `from_config` to load one from a checkpoint).
        merge_lora: fold the model's LoRA, if any, into the LLM's weights (`PalmE.merge_lora`;
            faster, and the planner only runs inference). False leaves the model as trained.
    """

    def __init__(self, model: PalmE, merge_lora: bool = True) -> None:
        from embodied_mm.model.decoding import StepDecoder

        if merge_lora and model.config.lora and not model.merged:
            model.merge_lora()
        self.model = model.eval()
        self.decoder = StepDecoder(model)
        self.needs_images = model.config.needs_images
        self._prefix: tuple[str, object] | None = None  # (instruction, its prefix's KV cache)

    @classmethod
    def from_config(cls, cfg: PlannerConfig) -> PalmePlanner:
        """Loads `cfg.checkpoint` (default `checkpoints/palme-gemma270m`).

        Reads the optional fields `checkpoint`, `llm` (override of the checkpoint's LLM name or
        path; the LLM is still checked against the checkpoint), `device` and `dtype`.
        """
        from embodied_mm.model.palme import CheckpointError, PalmE

        path = resolve_checkpoint(cfg.checkpoint or DEFAULT_CHECKPOINT)
        try:
            model = PalmE.from_checkpoint(path, llm=cfg.llm, dtype=cfg.dtype)
        except CheckpointError as err:
            raise PlannerError(str(err)) from err
        return cls(model.to(cfg.device or "cpu"))

    def prompt_embeds(self, obs: Observation, done: Sequence[SkillCall]):
        """(1, T, H) sentence embeddings of this decision: features, encoders, text."""
        from embodied_mm.model.features import extract

        scene = extract(obs, images=self.needs_images, image_size=self.model.config.image_size)
        return self.model.prompt_embeds(scene, self.instruction, done)

    def next_step(self, obs: Observation, done: Sequence[SkillCall]) -> str:
        import torch

        embeds = self.prompt_embeds(obs, done)
        prefix, cache = self.prefix_cache()
        if not torch.equal(embeds[0, :len(prefix)], prefix):  # cannot happen; never guess
            raise PlannerError("the prompt does not start with its cached prefix")
        return self.decoder.decode(embeds[:, len(prefix):], obs.object_names, cache=cache)

    def prefix_cache(self):
        """(embeddings (P, H) of the text every prompt of this instruction starts with, a copy
        of their KV cache): computed once per instruction, so each decision runs the LLM only
        on what changed (with `model.instruction_first` the whole `Task:` clause)."""
        import copy

        import torch

        ids = self.model.plan_prefix_ids(self.instruction)
        embeds = self.model.embed_tokens(torch.tensor(ids))
        if self._prefix is None or self._prefix[0] != self.instruction:
            with torch.no_grad():
                _, cache = self.model.hidden_states(embeds[None], use_cache=True)
            self._prefix = (self.instruction, cache)
        return embeds, copy.deepcopy(self._prefix[1])


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
