"""`embodied-mm eval`: many closed-loop sim episodes → `eval_info.json` and `report.html`.

Example:
    embodied-mm eval planner=oracle task=all eval.episodes=20 eval.seed=0 eval.out_dir=/tmp/o
    embodied-mm eval eval.suite=suite.yaml eval.workers=2

With `eval.workers=N` episodes run in N simulator processes; results are identical to a
single worker's because each episode depends only on its own seed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from tqdm import tqdm

from embodied_mm.config.schema import Config
from embodied_mm.eval.perturb import summary as perturb_summary
from embodied_mm.eval.report import summarize, write_report
from embodied_mm.eval.rollout import EpisodeRunner, EpisodeSpec, make_runner
from embodied_mm.eval.suite import episodes_for

_worker_runner: EpisodeRunner | None = None


def evaluate(cfg: Config, progress: bool = True) -> dict:
    """Runs the episodes `cfg` describes; writes and returns the eval_info dict (with
    `eval.vqa`, asks scene questions instead: `embodied_mm.eval.vqa`)."""
    if cfg.eval.vqa:
        from embodied_mm.eval.vqa import evaluate_vqa

        return evaluate_vqa(cfg, progress)
    specs = episodes_for(cfg)
    start = time.perf_counter()
    rows = _run_all(cfg, specs, progress)
    info = summarize(rows, planner=cfg.planner.name, model=None,
                     eval_s=round(time.perf_counter() - start, 2))
    if cfg.eval.perturb != "none":
        info["perturb"] = {"mode": cfg.eval.perturb, **perturb_summary(rows)}
    out_dir = Path(cfg.eval.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "eval_info.json").write_text(json.dumps(info, indent=2))
    write_report(info, out_dir)
    return info


def _run_all(cfg: Config, specs: list[EpisodeSpec], progress: bool) -> list[dict]:
    bar = tqdm(total=len(specs), desc=f"eval {cfg.planner.name}", unit="ep",
               disable=not progress)
    rows: list[dict] = []
    if cfg.eval.workers == 1:
        with make_runner(cfg) as runner:
            for spec in specs:
                rows.append(runner.run(spec).to_dict())
                _update(bar, rows)
    else:
        workers = min(cfg.eval.workers, len(specs))
        threads = max(1, (os.cpu_count() or 1) // workers)  # N workers share the cores
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"),
                                 initializer=_init_worker, initargs=(cfg, threads)) as pool:
            for row in pool.map(_run_in_worker, specs):
                rows.append(row)
                _update(bar, rows)
    bar.close()
    return rows


def _update(bar: tqdm, rows: list[dict]) -> None:
    bar.update(1)
    bar.set_postfix(success=f"{sum(r['success'] for r in rows) / len(rows):.2f}")


def _init_worker(cfg: Config, threads: int) -> None:
    """Builds the worker's runner; torch (a learned planner) gets `threads` threads, as more
    threads than cores across the workers make every matmul spin-wait (5× slower here)."""
    global _worker_runner
    _worker_runner = make_runner(cfg)
    if "torch" in sys.modules:  # only a learned planner loads it; the oracle stays light
        sys.modules["torch"].set_num_threads(threads)


def _run_in_worker(spec: EpisodeSpec) -> dict:
    return _worker_runner.run(spec).to_dict()


def main(cfg: Config) -> int:
    info = evaluate(cfg)
    out_dir = Path(cfg.eval.out_dir)
    if cfg.eval.vqa:
        print(f"{'question type':<16}{'accuracy':>9}{'questions':>10}")
        for kind, row in [*info["per_type"].items(), ("overall", info["overall"])]:
            print(f"{kind:<16}{row['accuracy']:>9.2f}{row['n_questions']:>10}")
        print(f"wrote {out_dir / 'vqa_info.json'}")
        return 0
    print(f"{'task':<16}{'success':>9}{'episodes':>10}")
    for task, row in info["per_task"].items():
        print(f"{task:<16}{row['success_rate']:>9.2f}{row['n_episodes']:>10}")
    overall = info["overall"]
    print(f"{'overall':<16}{overall['success_rate']:>9.2f}{overall['n_episodes']:>10}")
    if "perturb" in info:
        for kind, row in info["perturb"]["per_fault"].items():
            print(f"{'fault ' + kind:<16}{row['success_rate']:>9.2f}{row['n_episodes']:>10}")
        struck = info["perturb"]["perturbed"]
        if struck["n_episodes"]:
            print(f"{'perturbed':<16}{struck['success_rate']:>9.2f}{struck['n_episodes']:>10}"
                  f"  ({info['perturb']['not_struck']} episodes ended before a fault struck)")
    print(f"wrote {out_dir / 'eval_info.json'} and {out_dir / 'report.html'}")
    return 0
