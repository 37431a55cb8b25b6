"""Counterfactual instructions: `pick_place` first steps turned into `cannot()` samples.

A `pick_place` first step names a block by colour ("put the blue block in the pink bowl").
Swap that colour for one no block in the scene has, and the same scene with the new
instruction is an `infeasible` "absent block" sample: the right next step is `cannot()`. The
pair differs in one word, so the only way to get both right is to check the named colour
against the blocks' — the check a planner fine-tuned on few scenes otherwise drops for the
wording shortcut (docs/palme.md, "v21 and a control"). No simulation is needed: the scene is
the recorded one, nothing in it moves.

Example:
    python -c "from embodied_mm.training.data import load_splits; \
from embodied_mm.training.counterfactual import CounterfactualInstructions; \
s = CounterfactualInstructions(load_splits('outputs/data')[0], copies=1); \
print(len(s), s[0].instruction, s[0].target)"
"""

from __future__ import annotations

import dataclasses
import re
import zlib

from torch.utils.data import Dataset

from embodied_mm.model.features import attribute_labels, collate
from embodied_mm.model.palme import Sample
from embodied_mm.training.data import item_records
from embodied_mm.vocabulary import COLORS, KINDS

_BLOCK_PHRASE = re.compile(r"\b(" + "|".join(COLORS) + r") block\b")
SOURCE_TASK = "pick_place"


def named_block_colour(instruction: str) -> str | None:
    """The colour of the first `<colour> block` in `instruction`, or None."""
    found = _BLOCK_PHRASE.search(instruction)
    return found.group(1) if found else None


def block_colours(sample: Sample) -> set[str]:
    """The colours of the blocks in the sample's scene, read off its state rows."""
    batch = collate([sample.scene])
    labels = attribute_labels(batch["objects"], batch["object_mask"])
    names = list(COLORS)
    block = list(KINDS).index("block")
    return {names[c] for c, k in zip(labels["color"][0].tolist(), labels["kind"][0].tolist())
            if c >= 0 and k == block}


class CounterfactualInstructions(Dataset):
    """The counterfactual `cannot()` samples of a dataset's `pick_place` first steps.

    Args:
        dataset: a `PlanDataset` or a `ConcatDataset` of them (`item_records` reads it).
        copies: counterfactual samples per source sample, each with another absent colour
            (chosen by a hash of the item and copy, so the set is the same in every run and a
            resumed run draws the same batches).

    Raises:
        ValueError: `copies` < 1, or no `pick_place` first step names a block by colour.
    """

    def __init__(self, dataset: Dataset, copies: int) -> None:
        if copies < 1:
            raise ValueError(f"copies must be >= 1, got {copies}")
        self.dataset, self.copies = dataset, copies
        self.sources = [i for i, r in enumerate(item_records(dataset))
                        if r["task"] == SOURCE_TASK and r["kind"] == "plan" and not r["done"]
                        and named_block_colour(r["instruction"])]
        if not self.sources:
            raise ValueError("no pick_place first step in the training data names a block by "
                             "colour: nothing to make counterfactual samples from")

    def __len__(self) -> int:
        return len(self.sources) * self.copies

    def __getitem__(self, index: int) -> Sample:
        source, copy = divmod(index, self.copies)
        return counterfactual(self.dataset[self.sources[source]], f"{source}:{copy}")


def counterfactual(sample: Sample, key: str) -> Sample:
    """`sample` (which names its block by colour) with that colour swapped for one no block
    in the scene has and the instruction does not mention, picked by a hash of `key`; target
    `cannot()`."""
    named = named_block_colour(sample.instruction)
    if named is None:
        raise ValueError(f"{sample.instruction!r} names no block by colour")
    blocks = block_colours(sample)
    absent = [c for c in COLORS if c not in blocks and c not in sample.instruction]
    colour = absent[zlib.crc32(key.encode()) % len(absent)]
    instruction = sample.instruction.replace(f"{named} block", f"{colour} block", 1)
    return dataclasses.replace(sample, instruction=instruction, target="cannot()")

def with_counterfactuals(weighted: Dataset, source: Dataset, copies: int) -> Dataset:
    """`weighted` (the task-weighted training set) plus `copies` counterfactual samples per
    `pick_place` first step of `source` (the unweighted one); `weighted` itself when 0."""
    if copies == 0:
        return weighted
    from torch.utils.data import ConcatDataset

    return ConcatDataset([weighted, CounterfactualInstructions(source, copies)])
