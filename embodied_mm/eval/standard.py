"""The evaluations a planner checkpoint is reported with: the model card's and README's columns.

Each is a set of `embodied-mm eval` overrides on top of `task=all planner=palme`, seeds from
`SEED` (never used in training: gen-data trains on seeds below 100 000 that sample other
scenes, and validates on 100 000+):

| name | what it measures |
|---|---|
| `trained language` | instructions worded from the train side of the language split |
| `held-out language` | held-out constructions, nouns and colour spellings (never trained) |
| `held-out, +2 objects` | the same with two more objects than any training scene |
| `absent reference` | the instruction names an absent colour, kind or thing: `cannot()` |
| `faults` | trained language with one world fault per episode (`eval.perturb=mixed`) |
| `vqa` | scene questions on held-out scenes (`eval.vqa=true`), accuracy per type |

Example:
    python -c "from embodied_mm.eval.standard import commands; print(*commands(20), sep='\\n')"
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from embodied_mm.config.schema import Config

SEED = 1000
EXTRA_OBJECTS = 2  # objects beyond the most any training scene had (data.max_distractors)
VQA_SCENES = 5  # scenes per family for the vqa evaluation, 11 questions each


def evaluations(max_distractors: int = 2) -> dict[str, dict[str, object]]:
    """Name -> the `task.*` / `eval.*` settings of each standard evaluation."""
    return {
        "trained language": {"task.language": "train"},
        "held-out language": {"task.language": "heldout"},
        "held-out, +2 objects": {"task.language": "heldout",
                                 "task.n_distractors": max_distractors + EXTRA_OBJECTS},
        "absent reference": {"task.language": "heldout", "task.absent": "mixed"},
        "faults": {"task.language": "train", "eval.perturb": "mixed"},
        "vqa": {"eval.vqa": True},
    }


def slug(name: str) -> str:
    """A directory name for an evaluation: `held-out, +2 objects` -> `held_out_2_objects`."""
    return "_".join("".join(c if c.isalnum() else " " for c in name).split())


def commands(episodes: int, checkpoint: str = "checkpoints/palme-gemma270m",
             max_distractors: int = 2) -> list[str]:
    """The `embodied-mm eval` command line of each evaluation."""
    lines = []
    for name, settings in evaluations(max_distractors).items():
        n = min(episodes, VQA_SCENES) if name == "vqa" else episodes
        extra = " ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}"
                         for k, v in settings.items())
        lines.append(f"embodied-mm eval planner=palme planner.checkpoint={checkpoint} task=all "
                     f"eval.episodes={n} eval.seed={SEED} eval.workers=2 {extra} "
                     f"eval.out_dir=outputs/eval/{slug(name)}")
    return lines


def configure(cfg: Config, name: str, episodes: int, out_dir: Path,
              max_distractors: int = 2) -> Config:
    """`cfg` set up for evaluation `name` with `episodes` per family, writing to `out_dir`."""
    settings = evaluations(max_distractors)[name]
    task = dataclasses.replace(cfg.task, name="all", template_id=None,
                               language=settings.get("task.language", "train"),
                               absent=settings.get("task.absent", "none"),
                               n_distractors=settings.get("task.n_distractors", 0))
    vqa = bool(settings.get("eval.vqa", False))
    evaluation = dataclasses.replace(
        cfg.eval, episodes=min(episodes, VQA_SCENES) if vqa else episodes, seed=SEED,
        suite=None, vqa=vqa, perturb=settings.get("eval.perturb", "none"),
        out_dir=str(out_dir / slug(name)))
    return dataclasses.replace(cfg, task=task, eval=evaluation)
