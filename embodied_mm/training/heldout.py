"""Held-out metrics during training: next-step exact match, object-index accuracy and false
`cannot()`.

Each held-out sample's next step is decoded the way the planner decodes it (the
grammar-constrained `StepDecoder`, greedy, in float32). Three numbers come out:

- `accuracy`: the decoded step equals the target step;
- `object_accuracy`: over the target steps that name objects (`pick(obj_2)`, `push(obj_1,
  left)`), the decoded step names the same object ids in the same order. Referring to the
  right `obj_k` is the hard part of entity referral, so it is tracked on its own;
- `false_cannot_rate`: over the feasible samples (target not `cannot()`), the share decoded
  as `cannot()` — a refusal of a request worded in words the run never trained on is the
  failure that absent-reference training risks, and step accuracy alone hides it.

Under DDP each process decodes every `world_size`-th sample and the counts are summed.

Example:
    python -c "from embodied_mm.training.heldout import object_args; \
print(object_args('push(obj_3, left)'))"
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from embodied_mm.model.decoding import StepDecoder
from embodied_mm.model.palme import PalmE, Sample
from embodied_mm.plan_language import GRAMMAR, OBJECT, parse_step
from embodied_mm.training.distributed import Dist

CANNOT = "cannot"


@dataclass(frozen=True)
class HeldOut:
    """Held-out next-step metrics; accuracies are None when nothing was counted."""

    n: int
    correct: int
    n_object: int
    object_correct: int
    n_feasible: int = 0
    false_cannot: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.n if self.n else None

    @property
    def object_accuracy(self) -> float | None:
        return self.object_correct / self.n_object if self.n_object else None

    @property
    def false_cannot_rate(self) -> float | None:
        return self.false_cannot / self.n_feasible if self.n_feasible else None


def selection_score(row: dict) -> float | None:
    """How `train.keep=best` ranks a metrics row: next-step accuracy, minus the false
    `cannot()` rate, minus the share of absent references not refused (when measured): a
    refusal of a feasible request and an absent reference acted on each cost as much as a
    wrong step. None without an accuracy."""
    if row.get("accuracy") is None:
        return None
    refused = row.get("absent_refusal_rate")
    return (row["accuracy"] - (row.get("false_cannot_rate") or 0.0)
            - (0.0 if refused is None else 1.0 - refused))


def object_args(step: str) -> tuple[str, ...]:
    """The object ids a step names, in argument order (`push(obj_3, left)` → `('obj_3',)`)."""
    call = parse_step(step)
    return tuple(a for a, kind in zip(call.args, GRAMMAR[call.name]) if kind == OBJECT)


@torch.no_grad()
def evaluate_heldout(model: PalmE, samples: Sequence[Sample],
                     dist: Dist | None = None) -> HeldOut:
    """Decodes each sample's next step and compares it with the target (see module doc).

    Args:
        model: the (unwrapped) model; put in eval mode here and left so.
        samples: held-out samples whose targets are plan steps.
        dist: the process group (None: this process alone); each rank takes its share and
            the counts are summed.
    """
    dist = dist or Dist()
    model.eval()
    decoder = StepDecoder(model, cannot_bias=model.config.cannot_bias)
    # n, correct, n naming objects, of those the right objects, n feasible, of those cannot()
    counts = [0, 0, 0, 0, 0, 0]
    for sample in samples[dist.rank::dist.world_size]:
        names = sample.scene.object_names
        embeds = model.prompt_embeds(sample.scene, sample.instruction, sample.done)
        step = decoder.decode(embeds, names)
        target_objects = object_args(sample.target)
        counts[0] += 1
        counts[1] += parse_step(step) == parse_step(sample.target)
        if target_objects:
            counts[2] += 1
            counts[3] += object_args(step) == target_objects
        if parse_step(sample.target).name != CANNOT:
            counts[4] += 1
            counts[5] += parse_step(step).name == CANNOT
    return HeldOut(*(int(c) for c in dist.sum(counts)))
