"""`embodied-mm teleop`: the operator console on the sim graph (or, `--no-sim`, a real arm).

Checks its options first (a bad port, planner or task is a one-line error, exit 2, before any
process starts), writes the access token to a file only this user can read, runs
`launch/teleop_eval.launch.yaml` (sim, perception, planner, executor, console) and, once the
console answers, prints its address with the token on this terminal only (never to a log, a
topic or a command line). The page is served on 127.0.0.1 unless `--host` says otherwise on
purpose; an exposed address gets a warning.

Example:
    embodied-mm teleop --planner oracle --task stack --seed 3 --out outputs/teleop/s1
    embodied-mm teleop --approval --host 0.0.0.0 --port 8765   # reachable from the network
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from embodied_mm.paths import share_dir
from embodied_mm.teleop.access import (
    console_url,
    exposed,
    local_address,
    new_token,
    read_token_file,
    write_token_file,
)

READY_TIMEOUT_S = 300.0  # the graph's first start (model load) can take minutes


def launch_arguments(args: argparse.Namespace, token_file: str | Path) -> list[str]:
    """The launch file's `name:=value` arguments for the parsed options (no token in them)."""
    return [f"planner:={args.planner}", f"task:={args.task}", f"seed:={args.seed}",
            f"out_dir:={args.out}", f"host:={args.host}", f"port:={args.port}",
            f"token_file:={token_file}", f"approval:={str(args.approval).lower()}",
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
    p.add_argument("--token-file", help="file (mode 0600) holding the access token; "
                   "default: a random token, printed on this terminal")
    p.add_argument("--approval", action="store_true", help="each planned step waits for "
                   "the operator's approval")
    p.add_argument("--image-hz", type=float, default=4.0, help="camera images recorded per s")
    p.add_argument("--no-sim", dest="sim", action="store_false",
                   help="real arm: no sim node, colour perception")
    return p


def check(args: argparse.Namespace) -> str | None:
    """The first problem with the options, as a one-line message; None when they are fine."""
    from embodied_mm.planner import PLANNERS
    from embodied_mm.tasks import TASKS  # pure Python: the registry of task families

    if args.token_file:
        try:
            read_token_file(args.token_file)
        except ValueError as err:
            return f"--token-file: {err}"
    if not 0.0 < args.image_hz <= 100.0:
        return f"--image-hz must be in (0, 100], got {args.image_hz}"
    if not 0 <= args.port <= 65535:
        return f"--port must be in 0..65535, got {args.port}"
    if args.planner not in PLANNERS:
        return f"--planner: unknown planner {args.planner!r}; one of {', '.join(PLANNERS)}"
    if args.task not in TASKS:
        return f"--task: unknown task {args.task!r}; one of {', '.join(sorted(TASKS))}"
    if not 0 <= args.seed < 2**32:
        return f"--seed must be in 0..{2**32 - 1}, got {args.seed}"
    try:
        socket.getaddrinfo(args.host, None)
    except (socket.gaierror, UnicodeError):
        return f"--host: cannot resolve {args.host!r}"
    return None


def free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def announce_when_ready(url: str, host: str, port: int, timeout_s: float = READY_TIMEOUT_S,
                        out=None) -> threading.Thread:
    """Prints `url` on `out` (this terminal) once `host:port` accepts connections."""
    target = local_address(host)

    def wait() -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((target, port), timeout=1.0):
                    print(f"operator console: {url}", file=out or sys.stdout, flush=True)
                    return
            except OSError:
                time.sleep(0.5)

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    return thread


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    problem = check(args)
    if problem:
        parser().error(problem)
    if args.port == 0:  # chosen here: the address printed must be the one served
        args.port = free_port(args.host)
    token = read_token_file(args.token_file) if args.token_file else new_token()
    private = Path(tempfile.mkdtemp(prefix="embodied_mm_console_"))  # mode 0700
    try:
        token_file = write_token_file(private / "token", token)
        if exposed(args.host):
            print(f"embodied-mm teleop: warning: --host {args.host} exposes the console to "
                  "other machines over plain HTTP; anyone with the token can drive the robot",
                  file=sys.stderr)
        announce_when_ready(console_url(args.host, args.port, token), args.host, args.port)
        from embodied_mm.launch_runner import main as launch

        return launch([str(share_dir() / "launch" / "teleop_eval.launch.yaml"),
                       *launch_arguments(args, token_file)])
    finally:
        shutil.rmtree(private, ignore_errors=True)
