"""`embodied-mm demo`: the main job, in-process for now — one episode of every task family,
planned and executed closed loop, printed live, with a report written under `outputs/`.

Example:
    embodied-mm demo
    embodied-mm demo planner=oracle seed=7 eval.out_dir=outputs/my_demo

The ROS 2 graph version replaces this once the ROS nodes exist; the printout and the report
stay the same.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from embodied_mm.config.schema import Config
from embodied_mm.eval.report import summarize, write_report
from embodied_mm.eval.rollout import EpisodeSpec, make_runner
from embodied_mm.run import run_and_print

DEFAULT_OUT = "outputs/eval"  # eval's default; the demo writes under outputs/demo instead


def demo(cfg: Config) -> dict:
    """Runs one episode per task family; returns the eval_info dict it wrote."""
    from sim.tasks import TASKS

    out_dir = Path("outputs/demo" if cfg.eval.out_dir == DEFAULT_OUT else cfg.eval.out_dir)
    rows, start = [], time.perf_counter()
    with make_runner(cfg) as runner:
        for name in TASKS:
            spec = EpisodeSpec(name, cfg.seed, None, cfg.task.n_distractors)
            rows.append(run_and_print(runner, spec, cfg.planner.name).to_dict())
            print()
    info = summarize(rows, planner=cfg.planner.name, model=None,
                     eval_s=round(time.perf_counter() - start, 2))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "eval_info.json").write_text(json.dumps(info, indent=2))
    report = write_report(info, out_dir)
    ok = sum(r["success"] for r in rows)
    print(f"demo: {ok}/{len(rows)} episodes succeeded in {info['eval_s']:.0f} s; "
          f"report: {report}")
    return info


def main(cfg: Config) -> int:
    info = demo(cfg)
    return 0 if info["overall"]["success_rate"] == 1.0 else 1
