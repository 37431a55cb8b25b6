"""Training data: the generated dataset's splits, and a batch order that resumes exactly.

The order of samples is a function of (seed, epoch, rank, world size) only, through
`DistributedSampler`, so training resumed at step k draws exactly the batches an
uninterrupted run draws from step k on.

Example:
    python -c "from embodied_mm.training.data import BatchOrder; \
print(list(zip(range(3), BatchOrder(10, batch_size=4, seed=0).batches_from(2))))"
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from torch.utils.data import Dataset, DistributedSampler

from embodied_mm.model.palme import Sample, collate_samples

INDEX_FILE = "index.json"


def load_splits(data_dir: str | Path, *extra_dirs: str | Path,
                kinds: Sequence[str] = ("plan", "vqa")) -> tuple[Dataset, Dataset]:
    """(train split with the sample `kinds`, held-out-template val split of plan steps), of
    `data_dir` and any `extra_dirs` together.

    Raises:
        FileNotFoundError: no generated dataset in one of the directories.
    """
    from torch.utils.data import ConcatDataset

    from embodied_mm.data.dataset import PlanDataset

    dirs = [data_dir, *extra_dirs]
    for directory in dirs:
        if not (Path(directory) / INDEX_FILE).is_file():
            raise FileNotFoundError(
                f"train.data_dir: no dataset at {directory} (no {INDEX_FILE}); generate one "
                f"with `embodied-mm gen-data data.out_dir={directory}`")
    train = [PlanDataset(d, split="train", kinds=kinds) for d in dirs]
    val = [PlanDataset(d, split="val", kinds=("plan",)) for d in dirs]
    if len(dirs) == 1:
        return train[0], val[0]
    return ConcatDataset(train), ConcatDataset(val)


def item_records(dataset: Dataset) -> list[dict]:
    """The stored sample record (task, kind, step, instruction, …) of every item of a
    `PlanDataset`, or a `ConcatDataset` or `Subset` of them, in item order."""
    from torch.utils.data import ConcatDataset, Subset

    if isinstance(dataset, ConcatDataset):
        return [record for part in dataset.datasets for record in item_records(part)]
    if isinstance(dataset, Subset):
        records = item_records(dataset.dataset)
        return [records[i] for i in dataset.indices]
    records = getattr(dataset, "records", None)
    if records is None:
        raise ValueError(f"cannot read the sample records (task families) of a "
                         f"{type(dataset).__name__}")
    return records


def item_tasks(dataset: Dataset) -> list[str]:
    """The task family of every item of a `PlanDataset` or a `ConcatDataset` of them."""
    return [r["task"] for r in item_records(dataset)]


def weight_tasks(dataset: Dataset, weights: Mapping[str, int],
                 kind_weights: Mapping[str, int] | None = None) -> Dataset:
    """`dataset` with each item of family f and kind k (plan/vqa) repeated
    `weights.get(f, 1) * kind_weights.get(k, 1)` times (0 drops it).

    Raises:
        ValueError: a family or kind weighted other than 1 has no samples in the dataset (the
            weight would silently change nothing), or nothing is left.
    """
    kind_weights = kind_weights or {}
    if all(w == 1 for w in [*weights.values(), *kind_weights.values()]):
        return dataset
    from torch.utils.data import Subset

    records = item_records(dataset)
    for name, key, table in (("task_weights", "task", weights),
                             ("kind_weights", "kind", kind_weights)):
        have = {r[key] for r in records}
        missing = sorted(f for f, w in table.items() if w != 1 and f not in have)
        if missing:
            raise ValueError(f"train.{name}: no training samples of {', '.join(missing)} "
                             f"(the data has {', '.join(sorted(have))})")
    indices = [i for i, r in enumerate(records)
               for _ in range(weights.get(r["task"], 1) * kind_weights.get(r["kind"], 1))]
    if not indices:
        raise ValueError("train.task_weights and train.kind_weights leave no training samples")
    return Subset(dataset, indices)


def read_index(data_dir: str | Path) -> dict | None:
    """The dataset's `index.json`, or None when there is none."""
    path = Path(data_dir) / INDEX_FILE
    return json.loads(path.read_text()) if path.is_file() else None


class BatchOrder:
    """Batches of dataset indices for one process: shuffled per epoch, resumable at any step.

    Args:
        size: samples in the dataset.
        batch_size: samples per batch and process; a dataset smaller than that gives one
            batch of all of it per epoch.
        seed: shuffling seed.
        rank, world_size: this process's shard (`DistributedSampler`).
    """

    def __init__(self, size: int, batch_size: int, seed: int, rank: int = 0,
                 world_size: int = 1) -> None:
        if size < 1:
            raise ValueError("the training dataset is empty")
        self.sampler = DistributedSampler(range(size), num_replicas=world_size, rank=rank,
                                          shuffle=True, seed=seed)
        self.batch_size = min(batch_size, len(self.sampler))
        self.per_epoch = len(self.sampler) // self.batch_size  # the rest is dropped

    def batches_from(self, step: int) -> Iterator[list[int]]:
        """Endless batches, starting with the one training step `step` (0-based) uses."""
        epoch, offset = divmod(step, self.per_epoch)
        while True:
            self.sampler.set_epoch(epoch)
            order = list(self.sampler)
            for b in range(offset, self.per_epoch):
                yield order[b * self.batch_size:(b + 1) * self.batch_size]
            epoch, offset = epoch + 1, 0

    def loader(self, dataset: Dataset, step: int) -> Iterator[dict]:
        """Collated batches (`collate_samples`) of `dataset` from step `step` on.

        Not a `DataLoader`: creating its iterator draws from the global torch RNG, which would
        shift the dropout draws of a resumed run against an uninterrupted one.
        """
        for indices in self.batches_from(step):
            yield collate_samples([dataset[i] for i in indices])


def heldout_samples(dataset: Dataset, limit: int) -> list[Sample]:
    """Up to `limit` samples evenly spread over `dataset`, keeping the plan-step ones.

    Spreading (not the first `limit`) keeps every task family in the estimate when the split
    is stored family by family.
    """
    return [s for s in (dataset[i] for i in spread(len(dataset), limit))
            if s.kind == "plan" and s.target is not None]


def spread(n: int, limit: int) -> list[int]:
    """Up to `limit` indexes evenly spread over range(n), first and last included."""
    if limit <= 0 or n == 0:
        return []
    m = min(limit, n)
    return sorted({round(i * (n - 1) / max(m - 1, 1)) for i in range(m)})
