"""`embodied-mm train`: PaLM-E's encoders (+ optional LoRA) on a generated dataset, LLM frozen.

Example:
    embodied-mm train train.data_dir=outputs/data train.out_dir=outputs/train
    python -m embodied_mm.train model.llm=tiny train.steps=50 train.final_eval_episodes=0
    torchrun --nproc_per_node=2 -m embodied_mm.train train.num_threads=1   # DDP, 2 CPU procs

Writes into `train.out_dir`:
- `metrics.jsonl`: one JSON line per held-out evaluation (every `train.eval_every` steps and
  at the end): step, train loss, next-step and object-index accuracy, false `cannot()` rate,
  and (with `train.absent_references`) the share of held-out absent references refused,
  samples/s, wall time;
- `last/`: a resumable checkpoint every `train.checkpoint_every` steps and at the end;
  `train.resume=true` continues from it, drawing the same batches as an uninterrupted run;
- `best/`: with `train.keep=best`, the weights of the best held-out evaluation so far
  (`training.heldout.selection_score`);
- `final/`: the planner checkpoint (`planner=palme planner.checkpoint=OUT/final`) with its
  `model_card.md`: the last step's weights, or `best/`'s with `train.keep=best`;
- `final_eval/`: the closed-loop sim evaluation of `final/` when
  `train.final_eval_episodes` > 0.

`train.batch_size` is per process: under torchrun a step sees batch_size × processes samples.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import ConcatDataset, Dataset
from tqdm import tqdm

from embodied_mm.config.schema import Config, ConfigError, DataConfig
from embodied_mm.model.config import PalmEConfig
from embodied_mm.model.palme import WEIGHTS_FILE, CheckpointError, PalmE
from embodied_mm.planner.base import PlannerError
from embodied_mm.training.card import TrainingRun, write_card
from embodied_mm.training.checkpoint import find_checkpoint, save_checkpoint
from embodied_mm.training.data import (
    BatchOrder,
    heldout_samples,
    load_splits,
    read_index,
    weight_tasks,
)
from embodied_mm.training.distributed import distributed, wrap
from embodied_mm.training.heldout import HeldOut, evaluate_heldout, selection_score
from embodied_mm.training.language import absent_heldout, with_language
from embodied_mm.training.questions import SceneQuestions
from embodied_mm.training.trainer import Trainer

METRICS_FILE = "metrics.jsonl"
BEST_DIR = "best"


def model_config(cfg: Config) -> PalmEConfig:
    """`cfg.model` as a `PalmEConfig`, after checking the `train` keys the schema leaves open.

    Raises:
        ConfigError: naming the bad key.
    """
    t = cfg.train
    for key, value, least in (("eval_every", t.eval_every, 1), ("eval_samples", t.eval_samples, 0),
                              ("checkpoint_every", t.checkpoint_every, 1),
                              ("warmup_steps", t.warmup_steps, 0),
                              ("num_threads", t.num_threads, 1),
                              ("final_eval_episodes", t.final_eval_episodes, 0),
                              ("weight_decay", t.weight_decay, 0)):
        if value < least:
            raise ConfigError(f"train.{key} must be >= {least}, got {value}")
    return cfg.model


def _start_metrics(path: Path, step: int) -> list[dict]:
    """Rewrites metrics.jsonl keeping the rows up to `step` (later ones belong to a run that
    was cut off before its next checkpoint) and returns them."""
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
    rows = [r for r in rows if r["step"] <= step]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def _command() -> str:
    """This process's command line, as a user would type it (torchrun included)."""
    argv = list(sys.argv)
    modules = {os.path.join("embodied_mm", "train.py"): "embodied_mm.train",
               os.path.join("embodied_mm", "cli.py"): "embodied_mm.cli"}
    module = next((m for path, m in modules.items() if argv[0].endswith(path)), None)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    if world > 1:
        nodes = f"--nnodes={world // local} " if world != local else ""
        prog = f"torchrun {nodes}--nproc_per_node={local} " + (f"-m {module}" if module
                                                                else argv[0])
    else:
        prog = f"python -m {module}" if module else Path(argv[0]).name
    return " ".join([prog, *map(shlex.quote, argv[1:])])


def train(cfg: Config, progress: bool = True,
          data: tuple[Dataset, Dataset] | None = None) -> Path:
    """Trains, checkpoints, evaluates; returns the final checkpoint directory.

    Args:
        cfg: the config (`model`, `train`; `planner` and `eval` for the final sim evaluation).
        progress: show a progress bar (rank 0 only).
        data: (train, held-out) datasets of `Sample`s to use instead of `train.data_dir`'s
            `train` and `val` splits.

    Raises:
        ConfigError: a bad `model` or `train` value, naming the key (also: `out_dir/last`
            was trained with another model config and `train.resume` is true).
        FileNotFoundError: no dataset in `train.data_dir`.
    """
    model_cfg = model_config(cfg)
    if data is None:
        cfg = prepare_datasets(cfg, progress)
    t = cfg.train
    torch.set_num_threads(t.num_threads)
    out = Path(t.out_dir)
    with distributed() as dist:
        train_set, val_set = data if data is not None else load_splits(
            t.data_dir, *t.extra_data_dirs, kinds=t.kinds)
        try:
            weighted = weight_tasks(train_set, t.task_weights, t.kind_weights)
            stored = train_set  # unweighted: what the extra samples are made from
            train_set = with_language(weighted, stored, t.rewordings, t.absent_references,
                                      t.seed, t.absent_modes)
            if t.scene_questions > 0:
                train_set = ConcatDataset([train_set, SceneQuestions(
                    stored, t.scene_questions, t.question_types, t.seed)])
        except ValueError as err:
            raise ConfigError(str(err)) from None
        heldout = heldout_samples(val_set, t.eval_samples)
        absent = (absent_heldout(val_set, t.eval_samples // 2, t.seed)
                  if t.absent_references > 0 else [])
        try:
            model = PalmE(model_cfg).to(dist.device)
        except ValueError as err:
            raise ConfigError(f"model: {err}") from None
        trainer = Trainer(cfg, model, dist)
        last = find_checkpoint(out / "last") if t.resume else None
        if last is None and t.init_from:
            _warm_start(model, t.init_from, dist.is_main)
        if last is not None:
            try:
                trainer.restore(last)
            except CheckpointError as err:
                raise ConfigError(f"train.resume: cannot continue from {last}: {err}; use "
                                  "another train.out_dir or train.resume=false") from None
        rows = _start_metrics(out / METRICS_FILE, trainer.step) if dist.is_main else []
        _fit(trainer, train_set, heldout, absent, rows, progress, out)
        kept = _keep_best(model, rows, out) if t.keep == "best" and dist.is_main else None
        if t.init_mix > 0:
            _warm_start(model, t.init_from, dist.is_main, weight=t.init_mix)
    final = out / "final"
    if not dist.is_main:
        return final
    save_checkpoint(final, model)
    run = TrainingRun(_command(), len(train_set), len(heldout), sum(p.numel() for p in
                      trainer.params), dist.world_size, trainer.elapsed_s,
                      trainer.samples / max(trainer.step_s, 1e-9), rows,
                      _indexes(t) if data is None else [], bf16=trainer.bf16,
                      kept_step=kept)
    write_card(final, cfg, run)
    if t.final_eval_episodes > 0:
        run.eval_info = final_eval(cfg, final, progress)
        write_card(final, cfg, run)
    return final


def prepare_datasets(cfg: Config, progress: bool = True) -> Config:
    """`train.datasets`: generates each listed dataset that does not exist yet (`gen-data`
    with those `data.*` values) and returns `cfg` training on all of them.

    Raises:
        ConfigError: an unknown or bad `data` key in an entry, or missing datasets under
            torchrun (generate them first: one process should not race the others).
    """
    t = cfg.train
    if not t.datasets:
        return cfg
    from embodied_mm.data.generate import generate

    dirs = []
    for n, overrides in enumerate(t.datasets):
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(DataConfig)})
        if unknown:
            raise ConfigError(f"train.datasets[{n}]: unknown data key(s) {unknown}")
        data_cfg = dataclasses.replace(cfg.data, **overrides)
        if read_index(data_cfg.out_dir) is None:
            if int(os.environ.get("WORLD_SIZE", "1")) > 1:
                raise ConfigError(f"train.datasets[{n}]: no dataset at {data_cfg.out_dir}; "
                                  "run the same command without torchrun once to generate it")
            print(f"train.datasets[{n}]: generating {data_cfg.out_dir}", file=sys.stderr)
            generate(dataclasses.replace(cfg, data=data_cfg), progress)
        dirs.append(data_cfg.out_dir)
    train_cfg = dataclasses.replace(t, data_dir=dirs[0], extra_data_dirs=dirs[1:])
    return dataclasses.replace(cfg, train=train_cfg)


def _warm_start(model: PalmE, path: str, verbose: bool, weight: float = 1.0) -> None:
    """`train.init_from`: copies the fitting tensors of checkpoint `path` into `model` (at
    the start), or mixes `weight` of them in (`train.init_mix`, at the end)."""
    from embodied_mm.planner.palme import resolve_checkpoint

    try:
        new = model.warm_start(resolve_checkpoint(path), weight)
    except (CheckpointError, PlannerError) as err:
        raise ConfigError(f"train.init_from: {err}") from None
    if verbose and weight < 1:
        print(f"final weights: {1 - weight:g} x trained + {weight:g} x {path}'s")
    elif verbose:
        print(f"warm start from {path}; newly initialised: {summarise_names(new)}")


def summarise_names(names: list[str]) -> str:
    """Parameter names with layer numbers folded: `llm.model.layers.*.mlp.up_proj.lora_A…
    (×18)`, so a warm start's list of new tensors stays readable."""
    if not names:
        return "nothing"
    counts: dict[str, int] = {}
    for name in names:
        key = re.sub(r"\.\d+\.", ".*.", name).replace(".default.weight", "")
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(k if n == 1 else f"{k} (×{n})" for k, n in counts.items())


def _fit(trainer: Trainer, train_set: Dataset, heldout: list, absent: list, rows: list[dict],
         progress: bool, out: Path) -> None:
    """The training loop from `trainer.step` to `train.steps`; appends to `rows`. Each
    evaluation decodes `heldout` (plan samples) and `absent` (held-out absent references)."""
    t, dist, model = trainer.cfg.train, trainer.dist, trainer.model
    if trainer.step >= t.steps:
        return
    bar = tqdm(total=t.steps, initial=trainer.step, desc="train", unit="step",
               disable=not (progress and dist.is_main))
    if trainer.step > 0 and dist.is_main:
        bar.write(f"resuming from {out / 'last'} at step {trainer.step}")
    net = wrap(model, dist)
    order = BatchOrder(len(train_set), t.batch_size, t.seed, dist.rank, dist.world_size)
    window = [0.0, 0, 0.0]  # loss × samples, samples, seconds since the last evaluation
    postfix: dict[str, str] = {}
    model.train()
    tick = time.perf_counter()
    for batch in order.loader(train_set, trainer.step):
        loss, n = trainer.train_step(net, batch)
        seconds = time.perf_counter() - tick
        trainer.step_s += seconds
        window = [window[0] + loss * n, window[1] + n, window[2] + seconds]
        postfix.update(loss=f"{loss:.3f}", sps=f"{n / seconds:.1f}")
        bar.set_postfix(postfix, refresh=False)
        bar.update(1)
        step, finished = trainer.step, trainer.step >= t.steps
        if step % t.eval_every == 0 or finished:
            held = evaluate_heldout(model, heldout, dist)
            refused = evaluate_heldout(model, absent, dist)
            model.train()
            rows.append(_metrics_row(trainer, held, refused, window))
            window = [0.0, 0, 0.0]
            postfix.update(acc=_short(held.accuracy), obj=_short(held.object_accuracy),
                           no=_short(held.false_cannot_rate), absent=_short(refused.accuracy))
            bar.set_postfix(postfix)
            if dist.is_main:
                with open(out / METRICS_FILE, "a") as f:
                    f.write(json.dumps(rows[-1]) + "\n")
                if t.keep == "best" and _best_row(rows) is rows[-1]:
                    save_checkpoint(out / BEST_DIR, model)
        if step % t.checkpoint_every == 0 or finished:
            state = trainer.state()
            if dist.is_main:
                save_checkpoint(out / "last", model, state)
        if finished:
            break
        tick = time.perf_counter()
    bar.close()


def _best_row(rows: list[dict]) -> dict | None:
    """The first metrics row with the highest `selection_score` (None: no row has one)."""
    scored = [r for r in rows if selection_score(r) is not None]
    return max(scored, key=selection_score, default=None)


def _keep_best(model: PalmE, rows: list[dict], out: Path) -> int | None:
    """Leaves `model` with the best row's weights (loading `out/best` unless the last row is
    the best) and returns that row's step; None when nothing can be kept (no scored row, or
    `best/` missing, e.g. a run resumed from before it was written): the last step stays."""
    best = _best_row(rows)
    if best is None or (best is not rows[-1] and not (out / BEST_DIR / WEIGHTS_FILE).is_file()):
        return None
    if best is not rows[-1]:
        model.load(out / BEST_DIR)
    return best["step"]


def _indexes(t) -> list[dict]:
    """The index.json of every dataset the run trained on (those that have one)."""
    found = (read_index(d) for d in [t.data_dir, *t.extra_data_dirs])
    return [index for index in found if index is not None]


def _metrics_row(trainer: Trainer, held: HeldOut, refused: HeldOut, window: list) -> dict:
    loss_sum, samples, seconds = window
    return {"step": trainer.step, "loss": loss_sum / samples if samples else None,
            "accuracy": held.accuracy, "object_accuracy": held.object_accuracy,
            "false_cannot_rate": held.false_cannot_rate,
            "n_eval": held.n, "n_object": held.n_object,
            # every absent sample's target is cannot(): its exact-match rate is the refusal rate
            "absent_refusal_rate": refused.accuracy, "n_absent": refused.n,
            "samples_per_s": samples / seconds if seconds else None,
            "wall_s": round(trainer.elapsed_s, 2)}


def _short(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def final_eval(cfg: Config, checkpoint: Path, progress: bool = True) -> dict[str, dict]:
    """The standard evaluations (`eval.standard`) of `checkpoint` with the palme planner,
    `train.final_eval_episodes` per family, into `train.out_dir/final_eval/<name>/`: name ->
    eval_info (vqa_info for `vqa`)."""
    from embodied_mm.eval.evaluate import evaluate
    from embodied_mm.eval.standard import configure, evaluations

    planner = dataclasses.replace(cfg.planner, name="palme", checkpoint=str(checkpoint))
    out = Path(cfg.train.out_dir) / "final_eval"
    max_distractors = _max_distractors(cfg.train)
    results = {}
    for name in evaluations(max_distractors):
        eval_cfg = configure(dataclasses.replace(cfg, planner=planner), name,
                             cfg.train.final_eval_episodes, out, max_distractors)
        results[name] = evaluate(eval_cfg, progress)
    return results


def _max_distractors(t) -> int:
    """The most distractors any training dataset's scenes had (2 without an index)."""
    found = [index["config"]["data"]["max_distractors"] for index in _indexes(t)
             if "config" in index]
    return max(found, default=2)


def main(cfg: Config) -> int:
    """CLI entry: trains and prints where the checkpoint and metrics went."""
    final = train(cfg)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"wrote {final} (planner=palme planner.checkpoint={final}) and "
              f"{Path(cfg.train.out_dir) / METRICS_FILE}")
    return 0


if __name__ == "__main__":  # `python -m embodied_mm.train …` (torchrun -m) = `embodied-mm train …`
    from embodied_mm.cli import main as cli_main

    sys.exit(cli_main(["train", *sys.argv[1:]]))
