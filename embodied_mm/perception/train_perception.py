"""Training (and fine-tuning) of the learned perception's `InstanceNet` on labelled frames.

Losses per pixel at the network's half resolution: cross-entropy of the kind (background /
block / bowl), cross-entropy of the colour word on object pixels, and L1 of the offset to the
object's centre (the mean of its pixels) on object pixels. Frames are flipped left-right at
random and their colours jittered. The learning rate follows a cosine over the time budget
(`minutes`), so a run ends on time with a decayed rate; the weights are saved as float16.

Example:
    embodied-mm perception train --data outputs/perception/train --minutes 30
    embodied-mm perception train --data my_frames --init checkpoints/perception --minutes 5
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from embodied_mm.perception.dataset import Frame, frame_stems, load_frame
from embodied_mm.perception.learned import (
    KIND_CLASSES,
    OFFSET_SCALE,
    InstanceNet,
    LearnedDetector,
    NetConfig,
    prepare_input,
    save_checkpoint,
    split_output,
)
from embodied_mm.perception.scale import WorkingFrame
from embodied_mm.vocabulary import COLORS

IGNORE = 255  # no target: the colour of background pixels, anything in padding (`_padded`)


@dataclass
class TrainConfig:
    """One training run."""

    data: list[Path]  # frame folders
    out: Path = Path("outputs/perception/model")
    init: Path | None = None  # checkpoint to fine-tune from
    minutes: float = 30.0  # wall-clock budget (the schedule runs over it)
    epochs: int | None = None  # stop earlier after this many passes
    lr: float = 3e-3
    batch: int = 16
    threads: int = 1
    seed: int = 0
    val_share: float = 0.03  # frames held out for the loss printed each epoch
    net: NetConfig = field(default_factory=NetConfig)


def frame_targets(frame: Frame) -> tuple[np.ndarray, ...]:
    """Network input and per-pixel targets of one frame at input resolution, the frame first
    resampled to the pixel scale detection works at (`scale.WorkingFrame`: a user's 640×480
    frames train as the detector will see them).

    Returns:
        input (5, h, w) float16, kind (h, w) uint8, colour (h, w) uint8 (`IGNORE` off
        objects), offsets (2, h, w) float16 in units of `OFFSET_SCALE` px.
    """
    work = WorkingFrame.of(frame.rgb, frame.depth, frame.camera)
    x = prepare_input(work.rgb, work.camera.back_project(work.depth))
    h, w = x.shape[1:]
    low = cv2.resize(work.work(frame.instances), (w, h), interpolation=cv2.INTER_NEAREST)
    kinds = np.array([0] + [KIND_CLASSES.index(o["kind"]) for o in frame.objects], np.uint8)
    colors = np.array([IGNORE] + [list(COLORS).index(o["color"]) for o in frame.objects],
                      np.uint8)
    offsets = np.zeros((2, h, w), np.float32)
    v, u = np.mgrid[0:h, 0:w]
    for k in np.unique(low[low > 0]):
        mask = low == k
        offsets[0][mask] = u[mask].mean() - u[mask]
        offsets[1][mask] = v[mask].mean() - v[mask]
    return (x.astype(np.float16), kinds[low], colors[low],
            (offsets / OFFSET_SCALE).astype(np.float16))


def load_tensors(folders: list[Path], echo: Callable[[str], None] = print
                 ) -> tuple[torch.Tensor, ...]:
    """Every frame's input and targets, stacked: (N, 5, h, w), (N, h, w) ×2, (N, 2, h, w).
    Frames of other sizes (a camera's own frames mixed with sim frames) are padded to the
    largest (`_padded`)."""
    stems = [s for folder in folders for s in frame_stems(folder)]
    frames = []
    for i, stem in enumerate(stems):
        frames.append(frame_targets(load_frame(stem)))
        if (i + 1) % 500 == 0:
            echo(f"train: loaded {i + 1}/{len(stems)} frames")
    h = max(t[1].shape[0] for t in frames)
    w = max(t[1].shape[1] for t in frames)
    padded = [_padded(t, h, w) for t in frames]
    return tuple(torch.from_numpy(np.stack(part)) for part in zip(*padded))


def _padded(targets: tuple[np.ndarray, ...], h: int, w: int) -> tuple[np.ndarray, ...]:
    """One frame's input and targets padded at the bottom and right to (h, w): no input there
    (the depth-valid flag off) and nothing to learn (`IGNORE`)."""
    x, kind, color, offsets = targets
    pad = ((0, h - kind.shape[0]), (0, w - kind.shape[1]))
    if not any(after for _, after in pad):
        return targets
    return (np.pad(x, ((0, 0), *pad)), np.pad(kind, pad, constant_values=IGNORE),
            np.pad(color, pad, constant_values=IGNORE), np.pad(offsets, ((0, 0), *pad)))


def losses(out: torch.Tensor, kind: torch.Tensor, color: torch.Tensor,
           offsets: torch.Tensor) -> dict[str, torch.Tensor]:
    """The three losses of a batch (network output (B, 3 + C + 2, h, w) and targets)."""
    kind_logits, color_logits, offset_pred = split_output(out)
    weight = torch.tensor([1.0, 3.0, 2.0])  # objects are a few % of the pixels
    fg = ((kind > 0) & (kind != IGNORE)).unsqueeze(1).float()
    offset_loss = (F.l1_loss(offset_pred, offsets, reduction="none") * fg).sum() / \
        fg.sum().clamp(min=1)
    return {"kind": F.cross_entropy(kind_logits, kind, weight=weight, ignore_index=IGNORE),
            "color": F.cross_entropy(color_logits, color, ignore_index=IGNORE),
            "offset": offset_loss}


def _augment(x: torch.Tensor, kind: torch.Tensor, color: torch.Tensor, offsets: torch.Tensor,
             gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Random left-right flips (offsets' x negated) and colour gain/offset jitter."""
    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    x, kind, color, offsets = x.clone(), kind.clone(), color.clone(), offsets.clone()
    x[flip], kind[flip], color[flip] = x[flip].flip(-1), kind[flip].flip(-1), color[flip].flip(-1)
    offsets[flip] = offsets[flip].flip(-1)
    offsets[flip, 0] = -offsets[flip, 0]
    gain = 1 + 0.08 * (torch.rand(x.shape[0], 3, 1, 1, generator=gen) * 2 - 1)
    shift = 0.04 * (torch.rand(x.shape[0], 1, 1, 1, generator=gen) * 2 - 1)
    x[:, :3] = (x[:, :3] + 0.5) * gain - 0.5 + shift
    return x, kind, color, offsets


def train(cfg: TrainConfig, echo: Callable[[str], None] = print) -> Path:
    """Trains, writes the checkpoint to `cfg.out`, returns that folder."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    start = time.perf_counter()
    x, kind, color, offsets = load_tensors(cfg.data, echo)
    n = len(x)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed))
    n_val = min(max(1, int(n * cfg.val_share)), n - 1) if n > 1 else 0
    val, tr = order[:n_val], order[n_val:]
    echo(f"train: {len(tr)} frames, {n_val} for validation, input {tuple(x.shape[1:])}, "
         f"loaded in {time.perf_counter() - start:.0f} s")
    model = LearnedDetector.load(cfg.init).model if cfg.init else InstanceNet(cfg.net)
    model = model.float().train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(cfg.seed)
    budget, begun, step, epoch = cfg.minutes * 60, time.perf_counter(), 0, 0
    done = False
    while not done:
        epoch += 1
        totals: dict[str, float] = {}
        seen = 0
        for batch in tr[torch.randperm(len(tr), generator=gen)].split(cfg.batch):
            elapsed = (time.perf_counter() - begun) / budget
            if elapsed >= 1:
                done = True
                break
            warm = min(1.0, (step + 1) / 100)
            for group in opt.param_groups:
                group["lr"] = cfg.lr * warm * 0.5 * (1 + math.cos(math.pi * elapsed))
            xb, kb, cb, ob = _augment(x[batch].float(), kind[batch].long(), color[batch].long(),
                                      offsets[batch].float(), gen)
            parts = losses(model(xb), kb, cb, ob)
            loss = sum(parts.values())
            opt.zero_grad()
            loss.backward()
            opt.step()
            step, seen = step + 1, seen + len(batch)
            for k, v in parts.items():
                totals[k] = totals.get(k, 0.0) + float(v.detach()) * len(batch)
        line = ", ".join(f"{k} {v / max(seen, 1):.3f}" for k, v in totals.items())
        echo(f"train: epoch {epoch}, step {step}, {time.perf_counter() - begun:.0f} s: "
             f"{line}; val {_validate(model, x, kind, color, offsets, val):.3f}")
        if cfg.epochs is not None and epoch >= cfg.epochs:
            done = True
    model.eval()
    save_checkpoint(model, cfg.out, cfg.net if cfg.init is None else _net_of(cfg.init),
                    {"trained_on": [str(d) for d in cfg.data], "frames": len(tr),
                     "steps": step, "minutes": round((time.perf_counter() - begun) / 60, 1),
                     "init": str(cfg.init) if cfg.init else None})
    echo(f"wrote {cfg.out / 'model.safetensors'}")
    return cfg.out


@torch.no_grad()
def _validate(model: InstanceNet, x, kind, color, offsets, val: torch.Tensor) -> float:
    if len(val) == 0:
        return float("nan")
    model.eval()
    total = 0.0
    for batch in val.split(32):
        parts = losses(model(x[batch].float()), kind[batch].long(), color[batch].long(),
                       offsets[batch].float())
        total += float(sum(parts.values())) * len(batch)
    model.train()
    return total / len(val)


def _net_of(folder: Path) -> NetConfig:
    import json

    from embodied_mm.perception.learned import resolve_checkpoint

    net = json.loads((resolve_checkpoint(folder) / "config.json").read_text())["net"]
    return NetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in net.items()})
