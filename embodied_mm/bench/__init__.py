"""`embodied-mm bench`: planner, sim, ROS 2 and training benchmarks, each beside its baseline.

Example:
    embodied-mm bench                                  # everything, JSON in outputs/bench/
    embodied-mm bench bench.which=[planner] bench.repeats=50

Every timing excludes warm-up (`bench.warmup`) and reports median and p90 over
`bench.repeats`. The JSON also records the CPU, thread count and command, so a figure can be
compared only with figures from the same kind of machine.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

from embodied_mm.config.schema import Config


def _machine() -> dict:
    import os

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "python": platform.python_version()}


def benchmarks() -> dict[str, Callable[[Config], dict]]:
    """Benchmark name → function (imported lazily: each pulls in its own dependencies)."""
    from embodied_mm.bench.perception import bench_perception
    from embodied_mm.bench.planner import bench_planner
    from embodied_mm.bench.sim import bench_sim
    from embodied_mm.bench.training import bench_training
    from embodied_mm.ros.bench import bench_ros

    return {"planner": bench_planner, "sim": bench_sim, "perception": bench_perception,
            "ros": bench_ros, "train": bench_training}


def run_bench(cfg: Config, echo: Callable[[str], None] = print) -> dict:
    """Runs `bench.which`, writes the JSON to `bench.out`, returns it."""
    results: dict = {"machine": _machine(), "command": " ".join(["embodied-mm", *sys.argv[2:]])}
    table = benchmarks()
    for name in cfg.bench.which:
        echo(f"bench {name} …")
        start = time.perf_counter()
        results[name] = table[name](cfg)
        results[name]["bench_s"] = round(time.perf_counter() - start, 1)
    out = Path(cfg.bench.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    for line in summary_lines(results):
        echo(line)
    echo(f"wrote {out}")
    return results


def summary_lines(results: dict) -> list[str]:
    """A markdown table of the headline figures present in `results`."""
    rows = []
    if "planner" in results:
        p = results["planner"]
        d = p["decision"]
        rows += [
            ("planner decision, optimised (median / p90)",
             f"{d['optimised']['median_ms']:.0f} / {d['optimised']['p90_ms']:.0f} ms"),
            ("planner decision, naive generate (median / p90)",
             f"{d['naive']['median_ms']:.0f} / {d['naive']['p90_ms']:.0f} ms"),
            ("speed-up over naive", f"{d['speedup']}×"),
            ("encoders / prefill / decode (median)",
             " / ".join(f"{p['split'][k]['median_ms']:.0f}" for k in
                        ("encoders", "prefill", "decode")) + " ms"),
            ("decision by objects (median)", ", ".join(
                f"{n}: {t['median_ms']:.0f} ms" for n, t in p["by_objects"].items())),
            ("largest / smallest scene", f"{p['largest_vs_smallest']}×"),
            ("same steps as the reference decoder", p["same_steps_as_reference"]),
            (f"close calls re-decided in float32 (fast path {p['fast_dtype']})",
             p["rechecked"]),
            ("planner process peak RSS", f"{p['peak_rss_mb']:.0f} MB"),
        ]
    if "sim" in results:
        s = results["sim"]
        rows += [("physics steps/s", f"{s['physics_steps_per_s']:,}"),
                 (f"camera renders/s ({s['render_resolution']})", f"{s['renders_per_s']}"),
                 ("oracle episodes/min, 1 worker", f"{s['oracle_episodes_per_min_1_worker']}"),
                 ("oracle episodes/min, 2 workers",
                  f"{s['oracle_episodes_per_min_2_worker']} ({s['workers_2_vs_1']}×)")]
    if "perception" in results:
        q = results["perception"]
        rows += [(f"perception {m} per {q['resolution']} frame (median / p90)",
                  f"{q[m]['median_ms']:.1f} / {q[m]['p90_ms']:.1f} ms")
                 for m in ("gt", "color", "learned")]
    if "ros" in results:
        image, graph = results["ros"]["image_transport"], results["ros"]["graph"]
        gap = graph["skill_finished_to_next_plan"]
        rows += [(f"ROS image {image['resolution']} latency (median / p90)",
                  f"{image['latency']['median_ms']:.1f} / {image['latency']['p90_ms']:.1f} ms"),
                 ("ROS image rate received / published",
                  f"{image['received_hz']} / {image['published_hz']} Hz"),
                 (f"graph: skill finished → next plan, {graph['planner']} (median / p90)",
                  f"{gap['median_ms']:.0f} / {gap['p90_ms']:.0f} ms (n={gap['n']})")]
    if "train" in results:
        t = results["train"]
        rows += [("training samples/s fp32 / bf16",
                  f"{t['fp32_samples_per_s']} / {t['bf16_samples_per_s']} "
                  f"(bf16 {t['bf16_vs_fp32']}×)")]
    return ["| benchmark | result |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]


def main(cfg: Config) -> int:
    run_bench(cfg)
    return 0
