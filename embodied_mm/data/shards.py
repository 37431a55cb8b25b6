"""On-disk format of the planner dataset: compact scenes and sharded sample files.

A shard (`train-00000.pt`, `val-00000.pt`, …) is a `torch.save`d plain dict, loadable with
`torch.load(path, weights_only=True)`:

    {"format": "embodied_mm.data/1", "split": "train",
     "scenes": [scene, …],    # each observation once per shard, shared by its samples
     "samples": [sample, …]}  # exactly `data.shard_size` of them (fewer in the last shard)

scene: `objects` (N, 11) float32 and `robot` (15,) float32 as `features.extract` gives them;
`centroids` (N, 3) float32; `image` (3, S, S) uint8 (= round(255 · image)); masks as tight
boxes: `mask_boxes` (N, 4) int16 rows (y0, x0, h, w) and `mask_pixels` uint8, the boxes' pixels
(coverage · 255) concatenated row-major.
sample: `kind` ("plan" | "vqa"), `scene` (index into `scenes`), `instruction` (the task, or the
question for vqa), `done` (plan text of the steps done so far), `target` (the next step, or the
answer), `task`, `seed`, `template_id`, `n_distractors`, `step` (decision index in the
episode), `question_type` ("" for plan samples).

Example:
    python -c "import torch; s = torch.load('outputs/data/train-00000.pt', weights_only=True); \
print(len(s['samples']), s['samples'][0]['target'])"
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from embodied_mm.model.features import SceneFeatures

FORMAT = "embodied_mm.data/1"
SPLITS = ("train", "val")


def pack_scene(scene: SceneFeatures) -> dict[str, torch.Tensor]:
    """`SceneFeatures` (with an image) → the compact stored form."""
    boxes, pixels = [], []
    for mask in scene.masks:
        ys, xs = np.nonzero(mask > 0)
        if len(ys) == 0:
            boxes.append((0, 0, 0, 0))
            continue
        y0, x0, y1, x1 = ys.min(), xs.min(), ys.max() + 1, xs.max() + 1
        boxes.append((y0, x0, y1 - y0, x1 - x0))
        pixels.append(_to_u8(mask[y0:y1, x0:x1]).ravel())
    return {
        "objects": torch.from_numpy(np.asarray(scene.objects, np.float32)),
        "robot": torch.from_numpy(np.asarray(scene.robot, np.float32)),
        "centroids": torch.from_numpy(np.asarray(scene.centroids, np.float32)),
        "image": torch.from_numpy(_to_u8(scene.image)),
        "mask_boxes": torch.tensor(np.array(boxes, np.int16).reshape(-1, 4)),
        "mask_pixels": torch.from_numpy(np.concatenate(pixels) if pixels
                                        else np.zeros(0, np.uint8)),
        # k of each `obj_k`: after a fault removed an object the others keep their numbers
        "object_numbers": torch.tensor([_object_number(n) for n in scene.object_names],
                                       dtype=torch.int16),
    }


def _object_number(name: str) -> int:
    prefix, _, number = name.partition("_")
    if prefix != "obj" or not number.isdigit():
        raise ValueError(f"cannot store object name {name!r}: sim objects are named obj_k")
    return int(number)


def unpack_scene(packed: dict[str, torch.Tensor]) -> SceneFeatures:
    """The stored form → `SceneFeatures` with float32 arrays, as `features.extract` gives."""
    size = packed["image"].shape[-1]
    boxes = packed["mask_boxes"].numpy()
    pixels = packed["mask_pixels"].numpy()
    masks = np.zeros((len(boxes), size, size), np.float32)
    start = 0
    for i, (y0, x0, h, w) in enumerate(boxes.astype(int)):
        masks[i, y0:y0 + h, x0:x0 + w] = pixels[start:start + h * w].reshape(h, w) / 255.0
        start += h * w
    image = packed["image"].numpy().astype(np.float32) / 255.0
    numbers = packed.get("object_numbers")  # absent in shards written before it existed
    names = tuple(f"obj_{k}" for k in numbers.tolist()) if numbers is not None else ()
    return SceneFeatures(packed["objects"].numpy(), masks, packed["centroids"].numpy(), image,
                         packed["robot"].numpy(), names)


def _to_u8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(values) * 255.0), 0, 255).astype(np.uint8)


def shard_name(split: str, index: int) -> str:
    return f"{split}-{index:05d}.pt"


class ShardWriter:
    """Buffers one split's episodes and writes `shard_size` samples per shard file.

    Scenes are stored once per shard; a scene whose samples straddle two shards is stored in
    both, so every shard reads on its own.
    """

    def __init__(self, out_dir: Path, split: str, shard_size: int) -> None:
        self.out_dir, self.split, self.shard_size = out_dir, split, shard_size
        self.shards: list[str] = []
        self.bytes = 0
        self._pending: list[tuple[dict, dict]] = []  # (sample, its packed scene)

    def add(self, scenes: list[dict], samples: list[dict]) -> None:
        """Adds one episode: its packed scenes and samples (`sample["scene"]` indexes `scenes`).

        Samples are stored as fresh copies of their JSON form: objects shared between samples
        would pickle differently in one process than after a worker pool, and the shards of
        any worker count must be byte for byte the same."""
        self._pending += [(json.loads(json.dumps(s)), scenes[s["scene"]]) for s in samples]
        while len(self._pending) >= self.shard_size:
            self._write(self._pending[:self.shard_size])
            self._pending = self._pending[self.shard_size:]

    def close(self) -> None:
        """Writes the last, partial shard."""
        if self._pending:
            self._write(self._pending)
            self._pending = []

    def _write(self, items: list[tuple[dict, dict]]) -> None:
        scenes: list[dict] = []
        where: dict[int, int] = {}  # id(packed scene) -> index in this shard
        samples = []
        for sample, scene in items:
            if id(scene) not in where:
                where[id(scene)] = len(scenes)
                scenes.append(scene)
            samples.append({**sample, "scene": where[id(scene)]})
        path = self.out_dir / shard_name(self.split, len(self.shards))
        tmp = path.with_name(f".{path.name}.tmp")
        torch.save({"format": FORMAT, "split": self.split, "scenes": scenes,
                    "samples": samples}, tmp)
        os.replace(tmp, path)
        self.shards.append(path.name)
        self.bytes += path.stat().st_size


def load_shard(path: str | Path) -> dict:
    """Reads one shard (safe `weights_only` loading) and checks its format."""
    shard = torch.load(path, weights_only=True)
    if not isinstance(shard, dict) or shard.get("format") != FORMAT:
        raise ValueError(f"{path} is not an {FORMAT} shard")
    return shard


def remove_shards(out_dir: Path) -> None:
    """Deletes shard files of an earlier run, so the index never sits next to stale ones."""
    for split in SPLITS:
        for path in out_dir.glob(f"{split}-[0-9][0-9][0-9][0-9][0-9].pt"):
            path.unlink()
