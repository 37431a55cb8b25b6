"""`embodied-mm teleop`: the operator console on the sim graph (or, `--no-sim`, a real arm).

Runs `launch/teleop_eval.launch.yaml` (sim, perception, planner, executor, console) and prints
the console's address with its access token; open it in a browser. The page is served on
127.0.0.1 unless `--host` says otherwise on purpose.

Example:
    embodied-mm teleop --planner oracle --task stack --seed 3 --out outputs/teleop/s1
    embodied-mm teleop --approval --host 0.0.0.0 --port 8765   # reachable from the network
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from embodied_mm.paths import share_dir


def launch_arguments(args: argparse.Namespace) -> list[str]:
    """The launch file's `name:=value` arguments for the parsed options."""
    return [f"planner:={args.planner}", f"task:={args.task}", f"seed:={args.seed}",
            f"out_dir:={args.out}", f"host:={args.host}", f"port:={args.port}",
            f"token:={args.token}", f"approval:={str(args.approval).lower()}",
            f"image_hz:={args.image_hz}", f"sim:={str(args.sim).lower()}",
            f"perception:={'gt' if args.sim else 'color'}"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="embodied-mm teleop",
                                description="operator console for teleoperated evaluation")
    p.add_argument("--planner", default="oracle", help="planner under evaluation")
    p.add_argument("--task", default="pick_place", help="task family of the first sim scene")
    p.add_argument("--seed", type=int, default=0, help="seed of the first sim scene")
    p.add_argument("--out", default="outputs/teleop/session",
                   help="session folder: one MCAP per episode + session.json")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to serve on; 0.0.0.0 exposes the console to the network")
    p.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    p.add_argument("--token", default="auto", help="access token (auto: random, printed)")
    p.add_argument("--approval", action="store_true", help="each planned step waits for "
                   "the operator's approval")
    p.add_argument("--image-hz", type=float, default=4.0, help="camera images recorded per s")
    p.add_argument("--no-sim", dest="sim", action="store_false",
                   help="real arm: no sim node, colour perception")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.token != "auto" and len(args.token) < 16:
        parser().error("--token must have at least 16 characters")
    if args.image_hz <= 0:
        parser().error("--image-hz must be > 0")
    from embodied_mm.launch_runner import main as launch

    return launch([str(share_dir() / "launch" / "teleop_eval.launch.yaml"),
                   *launch_arguments(args)])
