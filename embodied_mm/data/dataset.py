"""`PlanDataset`: the shards written by `embodied-mm gen-data` as `Sample`s for `PalmE`.

All shards of the split are read into memory at construction (they are compact: uint8 images,
cropped uint8 masks); each item is rebuilt as float32 `SceneFeatures` when it is asked for.

Example:
    python -c "from embodied_mm.data.dataset import PlanDataset; \
d = PlanDataset('outputs/data', 'val', kinds=('plan',)); print(len(d), d.per_task, d[0].target)"

    >>> from torch.utils.data import DataLoader  # doctest: +SKIP
    >>> loader = DataLoader(PlanDataset(dir), batch_size=8, shuffle=True,
    ...                     collate_fn=collate_samples)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from torch.utils.data import Dataset

from embodied_mm.data.card import INDEX_FILE
from embodied_mm.data.shards import FORMAT, SPLITS, load_shard, unpack_scene
from embodied_mm.model.palme import Sample

KINDS = ("plan", "vqa")


class PlanDataset(Dataset):
    """Samples of one split, optionally only some kinds.

    Args:
        root: the `data.out_dir` of a `gen-data` run (holds `index.json`).
        split: `train` or `val` (held-out instruction templates).
        kinds: which samples: `plan` (next step) and/or `vqa` (scene questions).

    Attributes:
        index: the parsed `index.json`.
        records: per item, its stored sample dict (kind, task, seed, step, instruction, …).
        per_task: task family → number of items.

    Raises:
        FileNotFoundError: no `index.json` in `root`.
        ValueError: unknown split or kind, or files of another format.
    """

    def __init__(self, root: str | Path, split: str = "train",
                 kinds: Sequence[str] = KINDS) -> None:
        root = Path(root)
        if split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
        if not kinds or set(kinds) - set(KINDS):
            raise ValueError(f"kinds must be a non-empty subset of {KINDS}, got {tuple(kinds)}")
        if not (root / INDEX_FILE).is_file():
            raise FileNotFoundError(f"no dataset at {root} (no {INDEX_FILE}); make one with "
                                    "`embodied-mm gen-data data.out_dir=...`")
        self.index = json.loads((root / INDEX_FILE).read_text())
        if self.index.get("format") != FORMAT:
            raise ValueError(f"{root / INDEX_FILE} is not an {FORMAT} dataset")
        self.split, self.kinds = split, tuple(kinds)
        self._scenes: list[list[dict]] = []  # per shard
        self.records: list[dict] = []
        self._where: list[tuple[int, int]] = []  # item -> (shard, scene)
        for shard_no, name in enumerate(self.index["splits"][split]["shards"]):
            shard = load_shard(root / name)
            self._scenes.append(shard["scenes"])
            for sample in shard["samples"]:
                if sample["kind"] in self.kinds:
                    self.records.append(sample)
                    self._where.append((shard_no, sample["scene"]))
        self.per_task = dict(Counter(r["task"] for r in self.records))

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> Sample:
        record = self.records[i]
        shard, scene = self._where[i]
        return Sample(unpack_scene(self._scenes[shard][scene]), record["instruction"],
                      list(record["done"]), record["target"], kind=record["kind"])
