"""CPU seconds per node while the sim graph runs, and its skill-finished → next-plan gaps.

Runs `launch/tabletop_sim.launch.yaml` as `embodied-mm bench` does (8 episodes, task:=all,
seed:=5) and samples every child process's user+system CPU time from /proc, so one can see
which node competes with the planner for the 2 cores. Each gap is split at the first object
list captured after the skill ended (camera frame + perception) and the planner's own decision
time (its `plan: … (N ms)` log lines). Linux only.

    .venv/bin/python tools/graph_cpu.py                 # planner:=palme
    .venv/bin/python tools/graph_cpu.py oracle          # another planner
    OMP_NUM_THREADS=1 .venv/bin/python tools/graph_cpu.py   # the same, one torch thread
"""

from __future__ import annotations

import argparse
import os
import re
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


def stages(mcap_path: Path) -> dict[str, list[float]]:
    """Seconds of each skill-finished → next-plan gap spent before the first object list
    captured after the skill ended was published (`fresh_objects`), and after it
    (`objects_to_plan`). `fresh_objects` is split again at the frame's capture stamp (the sim
    stamps a frame with the moment its pose was taken): `to_frame`, then `frame_to_objects`
    (rendering, transport to perception, detection)."""
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    from embodied_mm.bench.ros import FINISHED
    from embodied_mm.ros import topics

    split: dict[str, list[float]] = {"fresh_objects": [], "to_frame": [], "frame_to_objects": [],
                                     "objects_to_plan": []}
    finished = fresh = frame = None
    with open(mcap_path, "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        for _, channel, message, msg in reader.iter_decoded_messages(
                topics=[topics.SKILL_STATUS, topics.PLAN, topics.OBJECTS], log_time_order=True):
            t = message.publish_time * 1e-9  # the publisher's clock
            if channel.topic == topics.SKILL_STATUS:
                if msg.name == "executor" and msg.message.split(":")[0] in FINISHED:
                    finished, fresh = t, None
            elif channel.topic == topics.OBJECTS:
                captured = max((m.header.stamp.sec + m.header.stamp.nanosec * 1e-9
                                for m in msg.markers), default=0.0)  # a DELETEALL has no stamp
                if finished is not None and fresh is None and captured > finished - 0.005:
                    fresh, frame = t, captured
            elif finished is not None and fresh is not None:  # the plan after a finished skill
                split["fresh_objects"].append(fresh - finished)
                split["to_frame"].append(frame - finished)
                split["frame_to_objects"].append(fresh - frame)
                split["objects_to_plan"].append(t - fresh)
                finished = None
    return split


def decision_times(log: Path) -> list[float]:
    """Seconds the planner node reported for each decision (`plan: … (N ms)`)."""
    return [float(m) / 1e3 for m in re.findall(r"plan: .*\(([\d.]+) ms\)", log.read_text())]


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
    for name, gaps in stages(Path(out) / "run.mcap").items():
        print(f"  {name}:", summarize_ms(gaps))
    print("  planner decision (its log):", summarize_ms(decision_times(Path(out) / "launch.log")))
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
