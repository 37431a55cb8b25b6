"""CPU seconds per node while the sim graph runs, and its skill-finished → next-plan gaps.

Runs `launch/tabletop_sim.launch.yaml` as `embodied-mm bench` does (8 episodes, task:=all,
seed:=5) and samples every child process's user+system CPU time from /proc, so one can see
which node competes with the planner for the 2 cores. Linux only.

    .venv/bin/python tools/graph_cpu.py                 # planner:=palme
    .venv/bin/python tools/graph_cpu.py oracle          # another planner
    OMP_NUM_THREADS=1 .venv/bin/python tools/graph_cpu.py   # the same, one torch thread
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from embodied_mm.bench.ros import _ros_env, replan_latencies  # noqa: E402
from embodied_mm.bench.stats import summarize_ms  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """Direct children of `pid` (the launcher's nodes)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def node_name(pid: int) -> str:
    """`sim_node` for `python -m embodied_mm.ros.sim_node …`, else the command."""
    args = Path(f"/proc/{pid}/cmdline").read_text().split("\0")
    module = next((a for a in args if a.startswith("embodied_mm.")), None)
    return module.rsplit(".", 1)[-1] if module else " ".join(args)[:40]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("planner", nargs="?", default="palme")
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--domain", type=int, default=151, help="ROS_DOMAIN_ID to run on")
    args = parser.parse_args()
    out = tempfile.mkdtemp(prefix="graph_cpu_")
    cmd = [sys.executable, "-m", "embodied_mm.cli", "launch",
           str(REPO / "launch" / "tabletop_sim.launch.yaml"), f"planner:={args.planner}",
           "task:=all", f"episodes:={args.episodes}", "seed:=5", f"out_dir:={out}"]
    with open(Path(out) / "launch.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **_ros_env(args.domain)},
                                stdout=log, stderr=subprocess.STDOUT)
        names: dict[int, str] = {}  # named while alive: an exited child's cmdline is empty
        usage: dict[int, float] = {}
        start = time.time()
        while proc.poll() is None:
            for pid in children(proc.pid):
                try:
                    names.setdefault(pid, node_name(pid))
                    usage[pid] = cpu_seconds(pid)
                except OSError:  # it just exited
                    pass
            time.sleep(0.5)
    wall = time.time() - start
    print(f"wall {wall:.1f} s, exit {proc.returncode}, log {out}/launch.log")
    for pid, seconds in sorted(usage.items(), key=lambda kv: -kv[1]):
        print(f"{names[pid]:40s} {seconds:7.1f} CPU s  {100 * seconds / wall:5.1f}% of a core")
    print("skill finished -> next plan:", summarize_ms(replan_latencies(Path(out) / "run.mcap")))
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
