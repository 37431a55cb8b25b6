"""Language in the training mixture: plan samples re-worded, and absent-reference samples.

A `gen-data` plan sample keeps its goal's `words` (`embodied_mm.language.render`), so its
scene can be trained with many instructions, not only the one the rollout happened to use:

- `Reworded` renders a fresh train-side instruction for each copy of each plan sample (`copies`
  views of the dataset, each worded differently; other samples repeat unchanged);
- `AbsentReferences` turns plan samples of every family and any step into `cannot()` samples:
  the same recorded scene with the instruction changed to name a colour, kind or thing the
  scene lacks (`embodied_mm.language.absent`). The pair differs in a word or two, so the planner
  must check what an instruction names against the scene rather than learn that a wording is
  feasible.

Both are deterministic functions of (item, copy, seed), so a resumed run draws the same batches.

Example:
    python -c "from embodied_mm.training.data import load_splits; \
from embodied_mm.training.language import AbsentReferences; \
s = AbsentReferences(load_splits('outputs/data')[0], 0.1); print(len(s), s[0].instruction)"
"""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np
from torch.utils.data import ConcatDataset, Dataset

from embodied_mm.language import ABSENT_MODES, make_absent, render
from embodied_mm.model.features import attribute_labels, collate
from embodied_mm.model.palme import Sample
from embodied_mm.plan_language import REFUSAL
from embodied_mm.training.data import item_records, spread
from embodied_mm.vocabulary import COLORS, KINDS


def _rewordable(record: dict) -> bool:
    return record["kind"] == "plan" and bool(record.get("words"))


def _rng(*keys: int) -> np.random.Generator:
    return np.random.default_rng([*keys])


def scene_objects(sample: Sample) -> list[tuple[str, str]]:
    """(colour, kind) of every object in the sample's scene, read off its state rows."""
    batch = collate([sample.scene])
    labels = attribute_labels(batch["objects"], batch["object_mask"])
    colors, kinds = list(COLORS), list(KINDS)
    return [(colors[c], kinds[k]) for c, k in zip(labels["color"][0].tolist(),
                                                  labels["kind"][0].tolist()) if c >= 0]


class Reworded(Dataset):
    """`copies` views of `dataset`; in view c, plan samples with goal words get the c-th
    train-side rendering of their goal (seeded by item and view).

    Raises:
        ValueError: `copies` < 1.
    """

    def __init__(self, dataset: Dataset, copies: int, side: str = "train", seed: int = 0) -> None:
        if copies < 1:
            raise ValueError(f"copies must be >= 1, got {copies}")
        self.dataset, self.copies, self.side, self.seed = dataset, copies, side, seed
        self.records = item_records(dataset)

    def __len__(self) -> int:
        return len(self.dataset) * self.copies

    def __getitem__(self, index: int) -> Sample:
        copy, item = divmod(index, len(self.dataset))
        sample = self.dataset[item]
        record = self.records[item]
        if not _rewordable(record):
            return sample
        text = render(record["words"], _rng(self.seed, item, copy, 1), self.side)
        return dataclasses.replace(sample, instruction=text)


class AbsentReferences(Dataset):
    """`cannot()` samples made from plan samples: `per_plan_sample` of them per re-wordable plan
    sample of a feasible family (sources spread over the dataset by a fixed permutation; the
    modes colour, kind, noun in turn, each as often as its integer weight in `mode_weights`;
    None: each once).

    Raises:
        ValueError: `per_plan_sample` <= 0, bad mode weights, or no plan sample carries goal
            words.
    """

    def __init__(self, dataset: Dataset, per_plan_sample: float, side: str = "train",
                 seed: int = 0, mode_weights: dict[str, int] | None = None) -> None:
        if per_plan_sample <= 0:
            raise ValueError(f"per_plan_sample must be > 0, got {per_plan_sample}")
        weights = mode_weights or dict.fromkeys(ABSENT_MODES, 1)
        if set(weights) - set(ABSENT_MODES) or sum(weights.values()) <= 0:
            raise ValueError(f"mode weights must weigh some of {', '.join(ABSENT_MODES)}, "
                             f"got {weights}")
        self.modes = [m for m in ABSENT_MODES for _ in range(weights.get(m, 0))]
        self.dataset, self.side, self.seed = dataset, side, seed
        self.records = item_records(dataset)
        sources = [i for i, r in enumerate(self.records) if _rewordable(r)
                   and r["task"] != "infeasible" and r["target"] != REFUSAL]
        if not sources:
            raise ValueError("no plan sample carries goal words (a dataset from gen-data "
                             "before the language generator?): nothing to make absent-"
                             "reference samples from; regenerate it")
        order = _rng(seed, 2).permutation(len(sources))
        self.sources = [sources[i] for i in order]
        self.size = max(1, round(per_plan_sample * len(sources)))

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> Sample:
        sample, changed, rng = self._changed(index)
        return dataclasses.replace(sample, instruction=render(changed, rng, self.side),
                                   target=REFUSAL)

    def absent_words(self, index: int) -> tuple[Sample, dict]:
        """(the source sample, the goal words item `index` renders): what it names absent."""
        sample, changed, _ = self._changed(index)
        return sample, changed

    def _changed(self, index: int) -> tuple[Sample, dict, np.random.Generator]:
        copy, position = divmod(index, len(self.sources))
        item = self.sources[position]
        sample, words = self.dataset[item], self.records[item]["words"]
        rng = _rng(self.seed, item, copy, 3)
        mode = self.modes[(index + zlib.crc32(str(item).encode())) % len(self.modes)]
        changed = make_absent(words, scene_objects(sample), rng, self.side, mode)
        if changed is None:  # nothing to recolour: a thing no scene has always works
            changed = make_absent(words, [], rng, self.side, "noun")
        return sample, changed, rng


def with_language(dataset: Dataset, source: Dataset, rewordings: int, absent: float,
                  seed: int = 0, absent_modes: dict[str, int] | None = None) -> Dataset:
    """The training set: `dataset` (task-weighted) in `rewordings` re-worded views, plus
    `absent` absent-reference samples per plan sample of `source` (the unweighted set), their
    modes weighted by `absent_modes` (None: each in turn)."""
    parts = [Reworded(dataset, rewordings, seed=seed) if rewordings > 1 else dataset]
    if absent > 0:
        parts.append(AbsentReferences(source, absent, seed=seed, mode_weights=absent_modes))
    return parts[0] if len(parts) == 1 else ConcatDataset(parts)


def absent_heldout(val_set: Dataset, n: int, seed: int = 0) -> list[Sample]:
    """Up to `n` absent-reference samples worded on the held-out side, spread over `val_set`'s
    feasible plan samples: what training measures refusal on. Empty when the split's samples
    carry no goal words (e.g. samples given directly, not a `gen-data` split)."""
    try:
        absent = AbsentReferences(val_set, 1.0, side="heldout", seed=seed)
    except ValueError:
        return []
    return [absent[i] for i in spread(len(absent), n)]
