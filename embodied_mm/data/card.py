"""The dataset's `index.json` (shards and counts, for loaders) and card `README.md` (for people).

Example:
    embodied-mm gen-data data.episodes_per_task=2 data.out_dir=/tmp/d && cat /tmp/d/README.md
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
from pathlib import Path

from embodied_mm.config.schema import Config, DataConfig, RobotConfig
from embodied_mm.data.shards import FORMAT, SPLITS, ShardWriter
from embodied_mm.data.vqa import QUESTIONS, VOCABULARY

INDEX_FILE, CARD_FILE = "index.json", "README.md"


def _flat(prefix: str, value) -> dict:
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {k: v for key, sub in value.items()
                for k, v in _flat(f"{prefix}.{key}", sub).items()}
    return {prefix: value}


def command(cfg: Config) -> str:
    """The `embodied-mm gen-data` command line that reproduces this dataset."""
    given = {**_flat("data", cfg.data), **_flat("robot", cfg.robot),
             "planner.max_steps": cfg.planner.max_steps}
    defaults = {**_flat("data", DataConfig()), **_flat("robot", RobotConfig()),
                "planner.max_steps": Config().planner.max_steps}
    overrides = [f"{k}={json.dumps(v, separators=(',', ':')) if isinstance(v, list) else v}"
                 for k, v in given.items() if v != defaults[k]]
    return " ".join(["embodied-mm gen-data", *map(shlex.quote, overrides)])


def _split_counts(episodes: list[dict], split: str, writer: ShardWriter) -> dict:
    per_task: dict[str, dict[str, int]] = {}
    for e in (e for e in episodes if e["split"] == split):
        row = per_task.setdefault(e["task"], {"episodes": 0, "failed": 0, "plan": 0, "vqa": 0})
        row["episodes"] += bool(e["success"])
        row["failed"] += not e["success"]
        for kind in ("plan", "vqa"):
            row[kind] += e["samples"].count(kind)
    totals = {key: sum(r[key] for r in per_task.values())
              for key in ("episodes", "failed", "plan", "vqa")}
    return {"shards": writer.shards, "samples": totals["plan"] + totals["vqa"], **totals,
            "bytes": writer.bytes, "per_task": per_task}


def write_index(out_dir: Path, cfg: Config, episodes: list[dict],
                writers: dict[str, ShardWriter], seconds: float, version: int) -> dict:
    """Writes `index.json` (atomically, after the shards) and returns it."""
    from embodied_mm.tasks import TASKS

    splits = {s: _split_counts(episodes, s, writers[s]) for s in SPLITS}
    n_samples = sum(s["samples"] for s in splits.values())
    n_plan = sum(s["plan"] for s in splits.values())
    total_bytes = sum(s["bytes"] for s in splits.values())
    index = {
        "format": FORMAT, "generator_version": version, "command": command(cfg),
        "config": {"data": dataclasses.asdict(cfg.data), "robot": dataclasses.asdict(cfg.robot),
                   "planner": {"name": "oracle", "max_steps": cfg.planner.max_steps}},
        "families": [name for name in TASKS if not cfg.data.tasks or name in cfg.data.tasks],
        "language": {"train": "train", "val": "heldout"},  # language side of each split
        "splits": splits,
        "failed_episodes": [{k: e[k] for k in ("split", "task", "seed", "outcome", "steps")}
                            for e in episodes if not e["success"]],
        "vqa": {"question_types": {n: q.template for n, q in QUESTIONS.items()},
                "vocabulary": list(VOCABULARY)},
        "generation": {"seconds": round(seconds, 2), "workers": cfg.data.workers,
                       "samples_per_s": round(n_samples / max(seconds, 1e-9), 2),
                       "plan_samples_per_s": round(n_plan / max(seconds, 1e-9), 2),
                       "bytes": total_bytes,
                       "bytes_per_sample": round(total_bytes / max(n_samples, 1))},
    }
    tmp = out_dir / f".{INDEX_FILE}.tmp"
    tmp.write_text(json.dumps(index, indent=2))
    os.replace(tmp, out_dir / INDEX_FILE)
    return index


def write_card(out_dir: Path, index: dict) -> None:
    """Writes the dataset card `README.md` from the index."""
    data, gen, splits = index["config"]["data"], index["generation"], index["splits"]
    lines = [
        "# embodied-mm planner dataset", "",
        "Oracle rollouts in the PyBullet tabletop: one `plan` sample per oracle decision "
        "(scene features, instruction, steps done so far, next step) and "
        f"{data['vqa_per_step']} `vqa` sample(s) per decision about the same observation. "
        f"Format `{index['format']}`, generator version {index['generator_version']}. "
        "Made with:", "", f"    {index['command']}", "",
        "| split | episodes kept | oracle failures (dropped) | plan samples | vqa samples | "
        "shards |", "|---|---:|---:|---:|---:|---:|",
        *(f"| {s} | {c['episodes']} | {c['failed']} | {c['plan']} | {c['vqa']} | "
          f"{len(c['shards'])} |" for s, c in splits.items()), "",
        "## Per task family", "",
        "| family | train episodes | train plan | train vqa | val episodes | val plan | "
        "val vqa | failures |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for task in index["families"]:
        tr, va = (splits[s]["per_task"].get(task, {}) for s in SPLITS)
        cells = [tr.get(k, 0) for k in ("episodes", "plan", "vqa")] + [
            va.get(k, 0) for k in ("episodes", "plan", "vqa")]
        failed = tr.get("failed", 0) + va.get("failed", 0)
        lines.append(f"| {task} | " + " | ".join(map(str, cells)) + f" | {failed} |")
    lines += ["", "## Language", "",
              "Instructions come from the language generator (`embodied_mm.language`): the "
              "`train` split is worded from its train side, the `val` split from its held-out "
              "side (nouns, colour spellings and constructions never trained on). Plan samples "
              "keep the goal's `words`, so training can re-word them.", ""]
    lines += ["", "## Seeds and sampling", "",
              f"- train: seeds {data['seed']}..{data['seed'] + data['episodes_per_task'] - 1} "
              "per family, train-side wording;",
              f"- val: seeds 100000..{100000 + data['val_episodes_per_task'] - 1} per family, "
              "held-out-side wording;",
              f"- each episode draws 0..{data['max_distractors']} distractors and its wording "
              "from its own seed, so any worker count gives the same data;",
              *([f"- one world fault per episode (`data.perturb={data['perturb']}`, as "
                 "`eval.perturb`): samples after it are the oracle's recovery;"]
                if data.get("perturb", "none") != "none" else []),
              *(["- the `objects` input's masks are the learned perception's on the rendered "
                 "frame (`data.object_masks=learned`), not the sim's segmentation;"]
                if data.get("object_masks", "sim") == "learned" else []),
              "- episodes the oracle failed are dropped (listed in `index.json`).", "",
              "## Files", "",
              f"`train-*.pt` / `val-*.pt`: {data['shard_size']} samples per shard "
              "(`embodied_mm/data/shards.py` documents the format); `index.json`: shards, "
              "counts, config. Load with `embodied_mm.data.dataset.PlanDataset(dir, split)`.",
              "", "## Generation", "",
              f"{gen['seconds']} s with {gen['workers']} worker(s): "
              f"{gen['samples_per_s']} samples/s ({gen['plan_samples_per_s']} plan samples/s); "
              f"{gen['bytes']} bytes on disk, {gen['bytes_per_sample']} bytes per sample.", ""]
    (out_dir / CARD_FILE).write_text("\n".join(lines))


def summary_lines(out_dir: Path) -> list[str]:
    """A short printout of a written dataset."""
    index = json.loads((Path(out_dir) / INDEX_FILE).read_text())
    lines = [f"{'split':<8}{'episodes':>9}{'failed':>8}{'plan':>8}{'vqa':>8}{'shards':>8}"]
    for split, c in index["splits"].items():
        lines.append(f"{split:<8}{c['episodes']:>9}{c['failed']:>8}{c['plan']:>8}"
                     f"{c['vqa']:>8}{len(c['shards']):>8}")
    gen = index["generation"]
    lines.append(f"{gen['samples_per_s']} samples/s, {gen['bytes_per_sample']} bytes/sample; "
                 f"wrote {out_dir} (index.json, README.md)")
    return lines
