"""`embodied-mm export SESSION_DIR`: a teleop session → planner training samples.

Every episode the operator labelled `success` is a demonstration, including the operator's
corrections: each step that reached the robot and succeeded — the planner's (auto or approved)
and the ones the operator dictated while in control — becomes one `plan` sample (the scene as
recorded just before the step was sent, the instruction, the steps done so far, the step),
and the episode ends with a `done()` sample on the final scene unless the executor already
ran `done()`. Rejected planner steps and failed steps are left out. Jogging moves no plan step
and gives no sample (the scene after it is what later samples see). Samples are written in
the `gen-data` format (`embodied_mm/data/shards.py`, split `train`) with an `index.json`, so
`train.extra_data_dirs=[DIR]` trains on them.

The dataset is written into a temporary folder next to `--out` and renamed into place only
when every episode was read and written: a failure leaves the previous dataset as it was. A
bad session (unreadable `session.json`, a missing, damaged or non-MCAP recording), a bad
`--image-size` or an `--out` that cannot be written is a one-line error with exit status 2.

Example:
    embodied-mm export outputs/teleop/session --out outputs/teleop_data
    embodied-mm train train.data_dir=outputs/data train.extra_data_dirs=[outputs/teleop_data]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embodied_mm.data.card import INDEX_FILE
from embodied_mm.data.shards import FORMAT, ShardWriter, pack_scene
from embodied_mm.robots.kinematics import PandaKinematics, rotation_to_quaternion
from embodied_mm.types import ObjectState, Observation

ARM = tuple(f"panda_joint{i}" for i in range(1, 8))
FINGERS = ("panda_finger_joint1", "panda_finger_joint2")


class ExportError(ValueError):
    """A session that cannot be exported; the text says why."""


def observation_at(log, at: float, kinematics: PandaKinematics) -> Observation:
    """The scene as recorded at or before `at` s: newest image, segmentation, objects, joints.

    Raises:
        ExportError: something the planner's features need was not recorded by then.
    """
    rgb, seg = log.latest(log.frames, at), log.latest(log.segmentations, at)
    markers, joints = log.latest(log.markers, at), log.latest(log.joints, at)
    missing = [n for n, v in (("camera image", rgb), ("objects", markers),
                              ("joint states", joints)) if v is None]
    if missing:
        raise ExportError(f"{log.path.name}: no {', '.join(missing)} recorded by {at:.2f} s")
    q = np.array([joints[j] for j in ARM])
    width = float(sum(joints.get(f, 0.0) for f in FINGERS))
    position, rotation = kinematics.forward(q)
    objects = [ObjectState(m["name"], m["kind"], m["color"], np.array(m["position"]),
                           np.array(m["orientation"]), np.array(m["size"]), m.get("mask_id"))
               for m in markers]
    return Observation(joint_positions=q, gripper_width=width,
                       ee_pose=np.concatenate([position, rotation_to_quaternion(rotation)]),
                       objects=objects, rgb=rgb, segmentation=seg, stamp=at)


def episode_samples(log, entry: dict[str, Any], image_size: int,
                    kinematics: PandaKinematics) -> tuple[list[dict], list[dict]]:
    """(packed scenes, plan samples) of one successful episode."""
    from embodied_mm.model.features import extract

    outcome = {}  # step index -> final executor status, matched in order of sending
    statuses = [st for _, st in log.statuses if st.get("source") == "executor"
                and st.get("status") not in ("running", "stale")]
    for record in log.step_records:
        if record["decision"] == "rejected":
            continue
        for i, st in enumerate(statuses):
            if st.get("step") == record["step"]:
                outcome[record["index"]] = statuses.pop(i)["status"]
                break
    meta = {"task": entry.get("task") or "custom", "seed": entry.get("seed") or 0,
            "template_id": entry.get("template_id"),
            "n_distractors": entry.get("n_distractors") or 0, "kind": "plan",
            "question_type": "", "episode": entry["id"]}
    instruction = log.instruction or entry["instruction"]
    scenes, samples, done = [], [], []

    def add(target: str, at: float, source: str) -> None:
        obs = observation_at(log, at, kinematics)
        scenes.append(pack_scene(extract(obs, images=True, image_size=image_size)))
        samples.append({**meta, "scene": len(scenes) - 1, "step": len(samples),
                        "instruction": instruction, "done": list(done), "target": target,
                        "source": source})

    for record in log.step_records:
        status = outcome.get(record["index"])
        if status not in ("succeeded", "terminal"):
            continue
        add(record["step"], record["sent_s"], record["source"])
        if status == "succeeded":
            done.append(record["step"])
    if not samples or samples[-1]["target"] not in ("done()", "cannot()"):
        add("done()", log.duration_s, "label")
    return scenes, samples


def export(session_dir: str | Path, out_dir: str | Path, image_size: int = 96,
           shard_size: int = 1000) -> dict[str, Any]:
    """Writes the samples of every `success`-labelled episode; returns the index written.

    Raises:
        FileNotFoundError: `session_dir` is not a teleop session.
        ExportError: no labelled-success episode to export, a bad argument or session, or
            `out_dir` cannot be written; the previous dataset there is left as it was.
    """
    from embodied_mm.teleop.session import load_index

    if not 16 <= image_size <= 1024:
        raise ExportError(f"--image-size must be in 16..1024, got {image_size}")
    session_dir, out = Path(session_dir), Path(out_dir)
    try:
        index = load_index(session_dir)
    except ValueError as err:
        raise ExportError(str(err)) from None
    chosen = [e for e in index["episodes"] if e.get("label") == "success"]
    if not chosen:
        raise ExportError(f"{session_dir}: no episode labelled success to learn from")
    if out.exists() and not (out.is_dir() and (not any(out.iterdir())
                                                or (out / INDEX_FILE).is_file())):
        raise ExportError(f"--out {out}: exists and is not a dataset folder; not replacing it")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as err:
        raise ExportError(f"--out {out}: cannot write there ({err.strerror})") from None
    try:
        result = _write(session_dir, index, chosen, staging, image_size, shard_size)
        _swap_in(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _swap_in(staging: Path, out: Path) -> None:
    """Renames `staging` to `out`, replacing an earlier dataset there in two renames."""
    staging.chmod(0o755)  # mkdtemp made it 0700
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        os.replace(out, old)
    os.replace(staging, out)
    shutil.rmtree(old, ignore_errors=True)


def _write(session_dir: Path, index: dict[str, Any], chosen: list[dict], out: Path,
           image_size: int, shard_size: int) -> dict[str, Any]:
    """Writes the shards and `index.json` of `chosen` episodes into the empty folder `out`."""
    from embodied_mm.teleop.episode_log import EpisodeLog
    from embodied_mm.teleop.mcap_io import RecordingError

    writer = ShardWriter(out, "train", shard_size)
    kinematics, exported, sources = PandaKinematics(), [], Counter()
    for entry in chosen:
        try:
            log = EpisodeLog.read(session_dir / entry["file"])
        except RecordingError as err:
            raise ExportError(str(err)) from None
        scenes, samples = episode_samples(log, entry, image_size, kinematics)
        writer.add(scenes, samples)
        sources.update(s["source"] for s in samples)
        exported.append({"episode": entry["id"], "task": entry.get("task"),
                         "samples": len(samples), "targets": [s["target"] for s in samples]})
    writer.close()
    n = sum(e["samples"] for e in exported)
    per_task = Counter()
    for e in exported:
        per_task[e["task"] or "custom"] += e["samples"]
    result = {
        "format": FORMAT, "source": "teleop", "session": str(session_dir),
        "planner": index.get("planner"), "image_size": image_size,
        "splits": {"train": {"shards": writer.shards, "samples": n, "plan": n, "vqa": 0,
                             "episodes": len(exported), "bytes": writer.bytes,
                             "per_task": dict(per_task)},
                   "val": {"shards": [], "samples": 0, "plan": 0, "vqa": 0, "episodes": 0}},
        "samples_by_source": dict(sources), "episodes": exported,
        "skipped_episodes": [e["id"] for e in index["episodes"] if e.get("label") != "success"],
    }
    (out / INDEX_FILE).write_text(json.dumps(result, indent=2))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="embodied-mm export",
                                     description="teleop session → planner training samples")
    parser.add_argument("session_dir")
    parser.add_argument("--out", help="dataset folder (default: SESSION_DIR/dataset)")
    parser.add_argument("--image-size", type=int, default=96,
                        help="side of the stored image and masks (the model's image_size)")
    args = parser.parse_args(argv)
    out = args.out or str(Path(args.session_dir) / "dataset")
    try:
        result = export(args.session_dir, out, args.image_size)
    except (FileNotFoundError, ExportError, OSError) as err:
        print(f"embodied-mm export: error: {err}", file=sys.stderr)
        return 2
    train = result["splits"]["train"]
    print(f"{train['samples']} plan samples from {train['episodes']} episodes "
          f"({', '.join(f'{k}: {v}' for k, v in result['samples_by_source'].items())}); "
          f"wrote {out}/{INDEX_FILE}")
    return 0
