"""The model card written next to a trained checkpoint (`model_card.md`).

It says what was trained (LLM, inputs, trained parameters), on what data (the dataset's
`index.json` counts when there is one), how (command, steps, batch, time, throughput), how
well (the held-out metrics at each evaluation) and, when run, the closed-loop sim evaluation.

Example:
    python -c "from embodied_mm.training.card import index_lines; \
print(index_lines({'splits': {'train': {'episodes': 9, 'plan': 40, 'vqa': 40}}}))"
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embodied_mm.config.schema import Config
from embodied_mm.eval.report import markdown_comparison
from embodied_mm.model.encoders import FREE, compact_groups
from embodied_mm.model.features import ATTRIBUTES, POSITION_ATTRIBUTES

CARD_FILE = "model_card.md"


@dataclass
class TrainingRun:
    """What the card reports about one training run."""

    command: str
    train_samples: int
    val_samples: int  # held-out plan-step samples available in the val split
    trained_parameters: int
    world_size: int
    train_s: float  # training wall time, over resumed runs too
    samples_per_s: float
    metrics: Sequence[dict[str, Any]]  # the metrics.jsonl rows
    indexes: Sequence[dict[str, Any]] = ()  # index.json of each dataset trained on
    # the standard evaluations (`eval.standard`): name -> eval_info.json (vqa_info.json)
    eval_info: dict[str, dict[str, Any]] | None = None
    bf16: bool = False  # whether steps ran under bf16 autocast (`train.autocast` resolved)
    kept_step: int | None = None  # with `train.keep=best`: the step whose weights were kept


def index_lines(index: dict[str, Any]) -> list[str]:
    """Markdown lines about a `gen-data` dataset from its `index.json`: command, language
    side of each split, counts per split."""
    lines = [f"- made with: `{index['command']}`"] if "command" in index else []
    if "language" in index:
        lines.append("- wording: " + ", ".join(f"{split} split from the {side} language side"
                                               for split, side in index["language"].items()))
    splits = index.get("splits", {})
    if splits:
        lines += ["", "| split | episodes | plan samples | vqa samples |", "|---|---:|---:|---:|",
                  *(f"| {name} | {c.get('episodes', '?')} | {c.get('plan', '?')} | "
                    f"{c.get('vqa', '?')} |" for name, c in splits.items())]
    return lines


def _object_tokens(m) -> str:
    """The card's description of the `<obj>` vectors of model config `m`."""
    words = {"relation": "a leftmost/rightmost/nearest/farthest word",
             "support": "a table/bowl/block/air word (what it rests on)",
             "held_color": "a same/other word (it has the held object's colour)",
             "pairing": "a home/away/alone word (with the object of the other kind and its "
                        "colour, which is elsewhere, or none)",
             "zone": "a table-zone word (front left … center)",
             "across": "its place from the left among all objects (first … tenth)",
             "depth": "its place from the robot (first … tenth)"}
    computed = "".join(f" + {words[name]}" for name in m.computed_words)
    layout = compact_groups((*ATTRIBUTES, *POSITION_ATTRIBUTES, FREE, *m.computed_words))
    groups = "; ".join(" + ".join(group) for group in layout)
    return (f"word-anchored (colour, kind, row, column as mixtures of the LLM's word "
            f"embeddings + one free vector{computed}; describe loss weight "
            f"{m.describe_weight:g}; packed into {len(layout)} vectors per "
            f"object: {groups})")


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def render(cfg: Config, run: TrainingRun) -> str:
    """The card's markdown text."""
    m, t = cfg.model, cfg.train
    regime = (f"LoRA r={m.lora_r} alpha={m.lora_alpha} on {', '.join(m.lora_targets)}"
              if m.lora else "frozen (PaLM-E's frozen-LLM regime)")
    out = [
        "# PaLM-E planner checkpoint", "",
        "A `PalmE` model: observation encoders whose vectors are injected into a language "
        "model's input sequence; the LLM writes the next plan step. Load it with "
        "`planner=palme planner.checkpoint=<this directory>`.", "",
        "## Model", "",
        f"- LLM: `{m.llm}`, {regime}",
        f"- inputs: {', '.join(m.inputs)} (encoder width {m.encoder_width}, image "
        f"{m.image_size} px, {m.image_tokens} image tokens)",
        "- object tokens: " + _object_tokens(m),
        "- plan prompt: `Task: …. <obj>1 <obj>2 … Done: …. Holding: <obj>|nothing. Next:`",
        *(["- relation questions answered with both places first (`second, first: no`; "
           "model.relation_reasoning)"] if m.relation_reasoning else []),
        f"- trained parameters: {run.trained_parameters:,} (the LLM's weights are not stored)",
        *([f"- refusal bias: {m.cannot_bias:g} logits taken off `cannot()` where a step begins "
           "(`model.cannot_bias`, saved with the weights; the evaluations below and the "
           "planner use it unless `planner.cannot_bias` is set)"] if m.cannot_bias else []),
        "", "## Data", "",
        f"- dataset: `{t.data_dir}`" + "".join(f" + `{d}`" for d in t.extra_data_dirs),
        *(["- task weights (samples drawn per epoch per stored sample): " + ", ".join(
            f"{task} ×{w}" for task, w in sorted(t.task_weights.items()) if w != 1)]
          if any(w != 1 for w in t.task_weights.values()) else []),
        f"- train samples: {run.train_samples:,}; held-out plan-step samples (val split, "
        f"held-out language): {run.val_samples:,}",
        *(line for index in run.indexes for line in ["", *index_lines(index)]),
        "", "## Training", "",
        f"- command: `{run.command}`",
        f"- {t.steps} steps × batch {t.batch_size} × {run.world_size} process(es); AdamW "
        f"lr {t.lr:g}, weight decay {t.weight_decay:g}, {t.warmup_steps} warm-up steps then "
        f"cosine; autocast {'bf16' if run.bf16 else 'none'}"
        f"{' (train.autocast=auto)' if t.autocast == 'auto' else ''}; seed {t.seed}",
        f"- training time: {_duration(run.train_s)} ({run.samples_per_s:.1f} samples/s)",
        *([f"- warm start: the trained tensors of `{t.init_from}` where names and shapes fit "
           "(`train.init_from`); that run's own card tells how it was trained"]
          if t.init_from else []),
        *([f"- kept weights: step {run.kept_step}'s, the held-out evaluation scoring best "
           "(accuracy − false `cannot()` − absent references not refused; `train.keep=best`)"]
          if run.kept_step is not None else []),
        *([f"- final weights: {1 - t.init_mix:g} × the trained tensors + {t.init_mix:g} × "
           f"`{t.init_from}`'s (`train.init_mix`, a weight-space ensemble of the model before "
           "and after this run)"] if t.init_mix > 0 else []),
        "", "## Held-out metrics", "",
        "Next step decoded with the grammar-constrained decoder on held-out-language samples; "
        "object accuracy counts the target steps that name objects; false `cannot()` is the "
        "share of feasible samples decoded as `cannot()`; absent refused is the share of "
        "held-out absent references (instructions naming what the scene lacks, made from "
        "val scenes) decoded as `cannot()`."
        + (" These rows are of the run's own weights, before the `train.init_mix` average; "
           "the evaluation below is of the final weights." if t.init_mix > 0 else ""), "",
        "| step | train loss | next-step accuracy | object-index accuracy | false `cannot()` "
        "| absent refused | samples |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        *(f"| {r['step']} | {_fmt(r['loss'])} | {_fmt(r['accuracy'])} | "
          f"{_fmt(r['object_accuracy'])} | {_fmt(r.get('false_cannot_rate'))} | "
          f"{_fmt(r.get('absent_refusal_rate'))} | {r['n_eval']} + {r.get('n_absent', 0)} |"
          for r in run.metrics),
    ]
    if run.eval_info:
        out += evaluation_lines(run.eval_info, t.final_eval_episodes)
    return "\n".join(out) + "\n"


def evaluation_lines(results: dict[str, dict[str, Any]], episodes: int) -> list[str]:
    """The card's evaluation section: success per family in each closed-loop evaluation, VQA
    accuracy per question type, and the command of each column."""
    from embodied_mm.eval.standard import SEED, commands

    episodes_info = {name: info for name, info in results.items() if "per_task" in info}
    out = ["", "## Evaluation (closed loop in the sim)", "",
           f"Planner `palme`, every task family, {episodes} episodes per family, seeds from "
           f"{SEED} (never trained on). Success is the family's predicate on the world state; "
           "in `absent reference` it is `cannot()` with nothing moved.", "",
           *markdown_comparison(episodes_info)]
    vqa = results.get("vqa")
    if vqa:
        out += ["", "Scene questions on held-out scenes (decoding constrained to each type's "
                "answers):", "", "| question type | accuracy | questions |", "|---|---:|---:|",
                *(f"| {kind} | {row['accuracy']:.2f} | {row['n_questions']} |"
                  for kind, row in vqa["per_type"].items()),
                f"| **overall** | **{vqa['overall']['accuracy']:.2f}** | "
                f"{vqa['overall']['n_questions']} |"]
    out += ["", "Reproduce a column:", "", "```", *commands(episodes), "```"]
    return out


def write_card(directory: str | Path, cfg: Config, run: TrainingRun) -> Path:
    """Writes `model_card.md` into the checkpoint directory; returns its path."""
    path = Path(directory) / CARD_FILE
    path.write_text(render(cfg, run))
    return path
