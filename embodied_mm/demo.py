"""`embodied-mm demo`: the main job — the ROS 2 tabletop graph with the PaLM-E planner and
the shipped checkpoint, a few instructions from different task families, the plan printed
live, then a summary with the paths of the report and the MCAP recording.

Example:
    embodied-mm demo                      # ROS 2 graph, 3 episodes, PaLM-E planner
    embodied-mm demo planner=oracle demo.episodes=8
    embodied-mm demo demo.graph=false     # no ROS: one in-process episode per task family

The graph runs `launch/tabletop_sim.launch.yaml` through `embodied-mm launch`: every node is
its own process over real DDS (localhost-only discovery unless configured otherwise). The
PaLM-E planner's LLM is prepared here, before the graph starts (converted from its GGUF
package once per machine, a minute or two; cached after that), so the planner node loads in
seconds and the first episode does not wait for it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

from embodied_mm.config.schema import Config
from embodied_mm.eval.report import summarize, write_report
from embodied_mm.eval.rollout import EpisodeSpec, make_runner
from embodied_mm.paths import share_dir
from embodied_mm.run import run_and_print

DEFAULT_OUT = "outputs/eval"  # eval's default; the demo writes under outputs/demo instead
# Overrides the CLI applies before the user's: the demo shows the PaLM-E planner by default.
DEFAULT_OVERRIDES = ("planner=palme",)
log = logging.getLogger(__name__)


def _out_dir(cfg: Config) -> Path:
    return Path("outputs/demo" if cfg.eval.out_dir == DEFAULT_OUT else cfg.eval.out_dir)


def prepare_planner(cfg: Config) -> None:
    """Converts and caches the embedded LLM (once per machine) when the planner needs it."""
    if cfg.planner.name != "palme" or cfg.planner.llm not in (None, "gemma3-270m"):
        return
    from embodied_mm.model.llm import gemma_cache

    log.info("demo: preparing the PaLM-E planner's LLM (Gemma 3 270M; converted once per "
             "machine, then cached)")
    start = time.perf_counter()
    path = gemma_cache()
    log.info(f"demo: LLM ready in {time.perf_counter() - start:.0f} s ({path})")


def demo_graph(cfg: Config) -> dict | None:
    """Runs the sim graph for `demo.episodes` episodes; returns the eval_info it wrote, or
    None (after saying why) if the graph failed."""
    from embodied_mm.launch_runner import main as launch

    out_dir = _out_dir(cfg)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("RCUTILS_CONSOLE_OUTPUT_FORMAT", "{message}")  # no timestamps
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # nodes: no weight-loading bars
    argv = [str(share_dir() / "launch" / "tabletop_sim.launch.yaml"),
            f"planner:={cfg.planner.name}", "task:=all", f"episodes:={cfg.demo.episodes}",
            f"seed:={cfg.seed}", f"out_dir:={out_dir}", "log_level:=warn"]
    prepare_planner(cfg)
    print(f"demo: ROS 2 tabletop graph, planner {cfg.planner.name}, "
          f"{cfg.demo.episodes} episodes")
    code = launch(argv)
    info_path = out_dir / "eval_info.json"
    if code != 0 or not info_path.is_file():
        print(f"embodied-mm: error: the graph exited with code {code}; see the node output "
              "above", file=sys.stderr)
        return None
    info = json.loads(info_path.read_text())
    _summary(info, out_dir, recording=out_dir / "run.mcap")
    return info


def demo_in_process(cfg: Config) -> dict:
    """One in-process episode per task family (no ROS); returns the eval_info it wrote."""
    from embodied_mm.tasks import TASKS

    out_dir = _out_dir(cfg)
    prepare_planner(cfg)
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
    write_report(info, out_dir)
    _summary(info, out_dir)
    return info


def _summary(info: dict, out_dir: Path, recording: Path | None = None) -> None:
    rows = info["per_episode"]
    ok = sum(r["success"] for r in rows)
    print(f"\ndemo: {ok}/{len(rows)} episodes succeeded in {info['eval_s']:.0f} s")
    for r in rows:
        print(f"  {'✓' if r['success'] else '✗'} {r['task']:<14} {r['instruction']}")
        print(f"      {' → '.join(r['steps'])}")
    print(f"report:    {out_dir / 'report.html'}")
    print(f"results:   {out_dir / 'eval_info.json'}")
    if recording is not None:
        print(f"recording: {recording}")


def main(cfg: Config) -> int:
    info = demo_graph(cfg) if cfg.demo.graph else demo_in_process(cfg)
    if info is None:
        return 1
    return 0 if info["overall"]["success_rate"] == 1.0 else 1
