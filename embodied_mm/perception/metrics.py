"""Perception metrics against ground truth: detection precision/recall, kind and colour accuracy,
position error, time per frame.

A detection matches a ground-truth object when their masks overlap with IoU >= 0.5 (greedy,
highest IoU first; each object and detection at most once). Objects marked hidden (fewer than
`dataset.MIN_VISIBLE` pixels in view) need not be found: a detection matching one is neither a
true nor a false positive. Kind and colour accuracy and the position error (3-D distance of box
centres) are over matched pairs.

Example:
    embodied-mm perception eval --scenes 210 --modes learned color
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embodied_mm.perception.dataset import (
    HELDOUT_SEED,
    Frame,
    camera_config,
    iter_frames,
    render_frame,
)


@dataclass
class Found:
    """One detection as scored: kind, colour, full-resolution mask, box centre (m)."""

    kind: str
    color: str
    mask: np.ndarray
    position: np.ndarray


@dataclass
class Tally:
    """Counts and errors accumulated over frames."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    kind_ok: int = 0
    color_ok: int = 0
    errors_mm: list[float] = field(default_factory=list)
    times_ms: list[float] = field(default_factory=list)
    frames: int = 0

    def add(self, other: Tally) -> None:
        for name in ("tp", "fp", "fn", "kind_ok", "color_ok", "frames"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors_mm += other.errors_mm
        self.times_ms += other.times_ms

    def summary(self) -> dict[str, float | int]:
        """Precision, recall, accuracies, median / p90 position error, median time."""
        def ratio(a: int, b: int) -> float:
            return round(a / b, 4) if b else float("nan")

        errors = np.asarray(self.errors_mm)
        return {"frames": self.frames, "objects": self.tp + self.fn,
                "precision": ratio(self.tp, self.tp + self.fp),
                "recall": ratio(self.tp, self.tp + self.fn),
                "kind_accuracy": ratio(self.kind_ok, self.tp),
                "color_accuracy": ratio(self.color_ok, self.tp),
                "position_error_median_mm": round(float(np.median(errors)), 2) if len(errors)
                else float("nan"),
                "position_error_p90_mm": round(float(np.percentile(errors, 90)), 2)
                if len(errors) else float("nan"),
                "time_median_ms": round(float(np.median(self.times_ms)), 1)
                if self.times_ms else float("nan")}


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, B) IoU of (A, H, W) and (B, H, W) bool masks."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    fa, fb = a.reshape(len(a), -1).astype(np.float32), b.reshape(len(b), -1).astype(np.float32)
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None] - inter
    return inter / np.maximum(union, 1)


def match(found_masks: np.ndarray, truth_masks: np.ndarray,
          threshold: float = 0.5) -> list[tuple[int, int]]:
    """(detection, object) index pairs with IoU >= `threshold`, greedily by IoU."""
    iou = mask_iou(found_masks, truth_masks)
    pairs = []
    used_f, used_t = set(), set()
    for f, t in zip(*np.unravel_index(np.argsort(-iou, axis=None), iou.shape)):
        if iou[f, t] < threshold:
            break
        if f not in used_f and t not in used_t:
            pairs.append((int(f), int(t)))
            used_f.add(f)
            used_t.add(t)
    return pairs


def score_frame(found: Sequence[Found], frame: Frame) -> Tally:
    """The tally of one frame's detections against its ground truth."""
    n = len(frame.objects)
    truth = np.stack([frame.instances == k for k in range(1, n + 1)]) if n else \
        np.zeros((0, *frame.instances.shape), bool)
    masks = np.stack([f.mask for f in found]) if found else \
        np.zeros((0, *frame.instances.shape), bool)
    tally = Tally(frames=1)
    matched_f, matched_t = set(), set()
    for f, t in match(masks, truth):
        obj = frame.objects[t]
        matched_f.add(f)
        matched_t.add(t)
        if obj.get("hidden", False):
            continue
        tally.tp += 1
        tally.kind_ok += found[f].kind == obj["kind"]
        tally.color_ok += found[f].color == obj["color"]
        if "position" in obj:
            tally.errors_mm.append(
                1000 * float(np.linalg.norm(found[f].position - np.asarray(obj["position"]))))
    tally.fp = len(found) - len(matched_f)
    tally.fn = sum(1 for t in frame.visible() if t not in matched_t)
    return tally


def detector(mode: str, checkpoint: Path | None = None, self_filter: bool = True
             ) -> Callable[[Frame], list[Found]]:
    """A function frame → detections for `mode` (`learned`, `color` or `gt`); `learned`
    keeps the robot's own pixels out of its masks where the frame records the arm's joints
    (`self_filter`)."""
    if mode == "learned":
        from embodied_mm.perception.learned import LearnedDetector
        from embodied_mm.perception.self_filter import SelfFilter

        model = LearnedDetector.load(checkpoint)
        robot_filter = SelfFilter() if self_filter else None

        def learned(fr: Frame) -> list[Found]:
            robot = None
            if robot_filter is not None and "joints" in fr.meta:
                robot = robot_filter.mask(fr.camera, fr.depth, fr.meta["joints"],
                                          fr.meta["gripper_width"])
            return [Found(d.kind, d.color, d.mask, d.position)
                    for d in model.detect(fr.rgb, fr.depth, fr.camera, robot)]
        return learned
    if mode == "color":
        from embodied_mm.perception.detectors import detect_color

        def color(fr: Frame) -> list[Found]:
            masks: dict[str, np.ndarray] = {}
            objects = detect_color(fr.rgb, fr.depth, fr.camera, masks=masks)
            return [Found(o.kind, o.color, masks[o.name], o.position) for o in objects]
        return color
    if mode == "gt":
        from embodied_mm.perception.detectors import detect_gt

        def gt(fr: Frame) -> list[Found]:
            table = [{"name": f"obj_{k}", "kind": o["kind"], "color": o["color"], "mask_id": k,
                      "size": o.get("size")} for k, o in enumerate(fr.objects, start=1)]
            objects = detect_gt(fr.rgb, fr.depth, fr.instances.astype(np.int32), fr.camera,
                                table)
            return [Found(o.kind, o.color, fr.instances == o.mask_id, o.position)
                    for o in objects]
        return gt
    raise ValueError(f"unknown perception mode {mode!r}; modes: learned, color, gt")


def heldout_frames(scenes: int, nominal: bool = False, first_seed: int = HELDOUT_SEED,
                   **camera):
    """`scenes` held-out frames rendered on the fly (seeds never trained on); `nominal`: with
    the sim's own camera and light and no image noise, else randomised like training data;
    `camera`: `camera_config`'s changes to the sim camera."""
    from sim.world import TabletopWorld

    with TabletopWorld(camera=camera_config(**camera)) as world:
        for i in range(scenes):
            yield render_frame(world, first_seed + i, augment=not nominal, vary=not nominal)


def evaluate_modes(modes: Sequence[str], scenes: int = 210, data: Path | None = None,
                   checkpoint: Path | None = None, threads: int = 1, nominal: bool = False,
                   echo: Callable[[str], None] = print, **camera) -> dict:
    """Every mode's metrics on the same frames, overall and per scene kind; `camera`: the
    held-out scenes' camera (`camera_config`)."""
    import torch

    torch.set_num_threads(threads)
    detectors = {mode: detector(mode, checkpoint) for mode in modes}
    overall = {mode: Tally() for mode in modes}
    by_scene: dict[str, dict[str, Tally]] = {mode: {} for mode in modes}
    frames = iter_frames(data) if data is not None else heldout_frames(scenes, nominal, **camera)
    for i, frame in enumerate(frames):
        kind = str(frame.meta.get("scene", "frames"))
        for mode, detect in detectors.items():
            start = time.perf_counter()
            found = detect(frame)
            tally = score_frame(found, frame)
            tally.times_ms.append((time.perf_counter() - start) * 1000)
            overall[mode].add(tally)
            by_scene[mode].setdefault(kind, Tally()).add(tally)
        if (i + 1) % 50 == 0:
            echo(f"eval: {i + 1} frames")
    rendering = "sim camera and light, no noise" if nominal else "randomised like training"
    if any(v is not None for v in camera.values()):
        c = camera_config(**camera)
        rendering += (f", a {c.width}x{c.height} camera with a {c.fov_deg:g} deg vertical field "
                      f"of view at {list(c.eye)} looking at {list(c.target)}")
    return {"source": str(data) if data is not None else
            f"{scenes} held-out scenes (seeds {HELDOUT_SEED}..{HELDOUT_SEED + scenes - 1}), "
            f"{rendering}",
            "modes": {mode: {"overall": overall[mode].summary(),
                             "by_scene": {k: t.summary() for k, t in sorted(
                                 by_scene[mode].items())}} for mode in modes}}


def markdown_table(results: dict) -> str:
    """The overall figures per mode, then recall / colour accuracy per scene kind."""
    head = ("| mode | precision | recall | kind acc. | colour acc. | position error median / "
            "p90 (mm) | ms / frame (median) |\n|---|---|---|---|---|---|---|")
    rows = [f"| {mode} | {s['precision']:.3f} | {s['recall']:.3f} | {s['kind_accuracy']:.3f} "
            f"| {s['color_accuracy']:.3f} | {s['position_error_median_mm']:.1f} / "
            f"{s['position_error_p90_mm']:.1f} | {s['time_median_ms']:.0f} |"
            for mode, r in results["modes"].items() for s in [r["overall"]]]
    kinds = sorted({k for r in results["modes"].values() for k in r["by_scene"]})
    modes = list(results["modes"])
    head2 = ("| scene kind | " + " | ".join(f"{m} P / R / colour" for m in modes) + " |\n|---|"
             + "---|" * len(modes))
    rows2 = ["| " + k + " | " + " | ".join(
        "{precision:.3f} / {recall:.3f} / {color_accuracy:.3f}".format(
            **results["modes"][m]["by_scene"][k]) for m in modes) + " |" for k in kinds]
    return "\n".join([f"{results['source']}", "", head, *rows, "", head2, *rows2])
