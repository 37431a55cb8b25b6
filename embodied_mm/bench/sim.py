"""Simulator throughput: physics steps/s, camera renders/s, oracle episodes/min (1 and 2
worker processes, the same episodes)."""

from __future__ import annotations

import dataclasses
import tempfile
import time

from embodied_mm.bench.stats import measure
from embodied_mm.config.schema import Config

PHYSICS_BATCH = 240  # steps per timed call (1 s of sim time at 240 Hz)


def bench_sim(cfg: Config, progress: bool = False) -> dict:
    """The sim benchmarks; oracle episodes run `bench.episodes` seeds across every family."""
    from embodied_mm.eval.evaluate import evaluate
    from embodied_mm.tasks import TASKS
    from sim.camera import CameraConfig
    from sim.world import TabletopWorld

    b = cfg.bench
    camera = CameraConfig(width=cfg.robot.camera.width, height=cfg.robot.camera.height)
    with TabletopWorld(camera=camera) as world:
        world.reset(TASKS["sort_by_color"].sample(0, n_distractors=2).scene)
        physics = measure(lambda: world.step(PHYSICS_BATCH), b.repeats, b.warmup)
        render = measure(world.render, b.repeats, b.warmup)
    out = {"physics_steps_per_s": round(PHYSICS_BATCH / (physics["median_ms"] / 1e3)),
           "renders_per_s": round(1e3 / render["median_ms"], 1),
           "render_resolution": f"{camera.width}x{camera.height}"}
    per_task = max(1, b.episodes // len(TASKS))
    for workers in (1, 2):
        with tempfile.TemporaryDirectory(prefix="embodied_mm_bench_") as scratch:
            run_cfg = dataclasses.replace(
                cfg, planner=dataclasses.replace(cfg.planner, name="oracle"),
                task=dataclasses.replace(cfg.task, name="all"),
                eval=dataclasses.replace(cfg.eval, episodes=per_task, seed=0, workers=workers,
                                         out_dir=scratch))
            start = time.perf_counter()
            info = evaluate(run_cfg, progress=progress)
            minutes = (time.perf_counter() - start) / 60
        out[f"oracle_episodes_per_min_{workers}_worker"] = round(
            info["overall"]["n_episodes"] / minutes, 1)
        out[f"oracle_success_{workers}_worker"] = info["overall"]["success_rate"]
    out["workers_2_vs_1"] = round(out["oracle_episodes_per_min_2_worker"]
                                  / out["oracle_episodes_per_min_1_worker"], 2)
    return out

