"""Soak test: many graph episodes in a row with faults injected, then an account of them.

Runs `launch/tabletop_sim.launch.yaml` (sim, perception, planner, executor, recorder, episode
runner) for `--episodes` episodes and, every `--fault-every` seconds, injects one fault drawn
from `--seed`: the planner killed (SIGKILL; it respawns and the runner records the episode it
interrupted as `aborted`), or a node stalled (SIGSTOP for `--stall-s`, then SIGCONT: planner,
perception, executor, sim or recorder); `--faults stall` draws only stalls, so one planner
process serves every episode and its RSS growth covers the whole run. Each episode also suffers
one world fault mid-skill (`--perturb`, default `mixed`: a block knocked away, slipping from
the grasp, or removed; the sim node injects it as `embodied-mm eval eval.perturb=…` does). The
planner's resident memory is sampled every second.

At the end it checks what a soak must show: the launch ended by itself (no hang), every
episode is accounted for in `eval_info.json`, and `run.mcap` reads to its end. It writes
`OUT/soak.json` (faults, episodes, success rate, planner RSS at start/end, the longest-lived
planner process's RSS every second and its growth over the second half of its life, the
recording's message count) and prints one line; exit 0 only if every check held.

Example:
    python -m embodied_mm.launch_runner.soak --episodes 100 --planner palme --out outputs/soak
    python -m embodied_mm.launch_runner.soak --episodes 8 --planner oracle --fault-every 15
    python -m embodied_mm.launch_runner.soak --episodes 100 --faults stall --fault-every 45
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from embodied_mm.config.schema import PERTURBATIONS
from embodied_mm.eval.perturb import summary as perturb_summary
from embodied_mm.launch_runner.resolve import resolve_launch
from embodied_mm.launch_runner.runner import Launch
from embodied_mm.paths import share_dir

FAULT_KINDS = ("kill", "stall")
STALLABLE = ("planner", "perception", "executor", "sim", "recorder")
RSS_PERIOD_S = 1.0


def rss_mb(pid: int) -> float | None:
    """Resident memory of `pid` in MB (Linux /proc), None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class FaultInjector:
    """Injects seeded faults into a running launch and samples the planner's memory."""

    def __init__(self, launch: Launch, every_s: float, stall_s: float, seed: int,
                 kinds: Sequence[str] = FAULT_KINDS) -> None:
        self.launch, self.every_s, self.stall_s = launch, every_s, stall_s
        self.kinds = list(kinds)
        self.random = random.Random(seed)
        self.faults: list[dict] = []
        self.rss: list[tuple[float, int, float]] = []  # (s since start, planner pid, MB)
        self._stop = threading.Event()
        self._start = time.monotonic()

    def run(self) -> None:
        next_fault = self._start + self.every_s
        while not self._stop.wait(RSS_PERIOD_S):
            pids = self.launch.pids()
            now = time.monotonic()
            if "planner" in pids and (mb := rss_mb(pids["planner"])) is not None:
                self.rss.append((round(now - self._start, 1), pids["planner"], round(mb, 1)))
            if now >= next_fault and "episode_runner" in pids:
                next_fault = now + self.every_s
                self._inject(pids, now)

    def _inject(self, pids: dict[str, int], now: float) -> None:
        kind = self.random.choice(self.kinds)
        target = "planner" if kind == "kill" else self.random.choice(
            [name for name in STALLABLE if name in pids])
        fault = {"t": round(now - self._start, 1), "fault": kind, "node": target}
        try:
            if kind == "kill":
                os.kill(pids[target], signal.SIGKILL)
            else:
                os.kill(pids[target], signal.SIGSTOP)
                time.sleep(self.stall_s)
                os.kill(pids[target], signal.SIGCONT)
                fault["stall_s"] = self.stall_s
        except ProcessLookupError:
            fault["missed"] = True  # it exited meanwhile
        self.faults.append(fault)
        print(f"[soak] {kind} {target} at {fault['t']} s", flush=True)

    def stop(self) -> None:
        self._stop.set()


def longest_planner(samples: list[tuple[float, int, float]]) -> list[tuple[float, float]]:
    """(s since start, MB) samples of the longest-lived planner process."""
    by_pid: dict[int, list[tuple[float, float]]] = {}
    for t, pid, mb in samples:
        by_pid.setdefault(pid, []).append((t, mb))
    return max(by_pid.values(), key=len) if by_pid else []


def planner_growth_mb(samples: list[tuple[float, int, float]]) -> float | None:
    """RSS growth of the longest-lived planner process over the second half of its life: its
    peak there minus its RSS at the midpoint (the first half is warm-up: model load, the first
    decisions of each scene size; the peak, not the last sample, so memory given back while the
    process shuts down does not hide a leak); None without enough samples."""
    longest = [mb for _, mb in longest_planner(samples)]
    if len(longest) < 4:
        return None
    middle = len(longest) // 2
    return round(max(longest[middle:]) - longest[middle], 1)


def check(out: Path, episodes: int) -> dict:
    """What the run left: episodes accounted for and the recording read to its end."""
    from embodied_mm.teleop.mcap_io import RecordingError, read_messages

    result: dict = {"episodes_requested": episodes}
    try:
        info = json.loads((out / "eval_info.json").read_text())
        result["episodes_accounted"] = len(info["per_episode"])
        result["success_rate"] = info["overall"]["success_rate"]
        result["outcomes"] = dict(Counter(r.get("outcome", "?") for r in info["per_episode"]))
        result["world_faults"] = perturb_summary(info["per_episode"])
    except (OSError, ValueError, KeyError) as err:
        result["episodes_accounted"], result["eval_info_error"] = 0, str(err)
    truncated: list[int] = []
    try:
        result["mcap_messages"] = sum(1 for _ in read_messages(out / "run.mcap",
                                                               on_truncated=truncated.append))
        result["mcap_readable"] = not truncated
    except RecordingError as err:
        result["mcap_messages"], result["mcap_readable"] = 0, False
        result["mcap_error"] = str(err)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m embodied_mm.launch_runner.soak",
                                description=__doc__.split("\n")[0])
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--planner", default="palme")
    p.add_argument("--fault-every", type=float, default=20.0, help="seconds between faults")
    p.add_argument("--stall-s", type=float, default=2.0, help="how long a stall lasts")
    p.add_argument("--seed", type=int, default=0, help="draws the faults and the episodes")
    p.add_argument("--perturb", default="mixed", choices=PERTURBATIONS,
                   help="world fault per episode (embodied_mm.eval.perturb)")
    p.add_argument("--faults", default=",".join(FAULT_KINDS),
                   help="node fault kinds to draw from, comma-separated: kill (the planner "
                        "SIGKILLed; it respawns) and/or stall (a node SIGSTOPped); 'stall' "
                        "alone keeps one planner process for the whole run, so its RSS growth "
                        "covers every episode")
    p.add_argument("--out", default="outputs/soak")
    args = p.parse_args(argv)
    if args.episodes < 1 or args.fault_every <= 0 or args.stall_s < 0:
        p.error("--episodes must be >= 1, --fault-every > 0 and --stall-s >= 0")
    kinds = [k.strip() for k in args.faults.split(",") if k.strip()]
    if not kinds or any(k not in FAULT_KINDS for k in kinds):
        p.error(f"--faults must name some of {', '.join(FAULT_KINDS)}; got {args.faults!r}")
    out = Path(args.out)
    specs = resolve_launch(share_dir() / "launch" / "tabletop_sim.launch.yaml", {
        "planner": args.planner, "episodes": str(args.episodes), "seed": str(args.seed),
        "out_dir": str(out), "perturb": args.perturb})
    # A killed planner comes back, as a supervised robot process would.
    specs = [dataclasses.replace(s, respawn=True, respawn_delay=1.0)
             if s.label == "planner" else s for s in specs]
    launch = Launch(specs)
    injector = FaultInjector(launch, args.fault_every, args.stall_s, args.seed, kinds)
    threading.Thread(target=injector.run, daemon=True).start()
    start = time.monotonic()
    code = launch.run()
    injector.stop()
    result = {"launch_exit_code": code, "wall_s": round(time.monotonic() - start, 1),
              "planner": args.planner, "perturb": args.perturb, "fault_kinds": kinds,
              "faults": injector.faults,
              "planner_rss_mb": {"first": injector.rss[0][2] if injector.rss else None,
                                 "last": injector.rss[-1][2] if injector.rss else None,
                                 "growth": planner_growth_mb(injector.rss),
                                 "longest_lived": longest_planner(injector.rss)},
              **check(out, args.episodes)}
    ok = code == 0 and result["episodes_accounted"] == args.episodes and result["mcap_readable"]
    result["ok"] = ok
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak.json").write_text(json.dumps(result, indent=2))
    print(f"[soak] {'OK' if ok else 'FAILED'}: {result['episodes_accounted']}/{args.episodes} "
          f"episodes accounted, {len(injector.faults)} faults, success "
          f"{result.get('success_rate')}, planner RSS growth "
          f"{result['planner_rss_mb']['growth']} MB, mcap readable "
          f"{result['mcap_readable']}; wrote {out / 'soak.json'}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
