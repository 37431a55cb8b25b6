"""ROS 2 integration fixtures: real nodes as separate processes over real DDS.

Every test gets its own random ROS_DOMAIN_ID with localhost-only discovery, so parallel runs
never cross-talk; processes are stopped with SIGINT (then killed) at the end.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy")

REPO = Path(__file__).resolve().parents[2]


class Graph:
    """Starts node processes in one ROS domain and a probe node in this process."""

    def __init__(self, domain_id: int, log_dir: Path) -> None:
        self.domain_id, self.log_dir = domain_id, log_dir
        self.env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id),
                    "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "PYTHONUNBUFFERED": "1"}
        self.procs: dict[str, subprocess.Popen] = {}
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.probe = rclpy.create_node("probe", context=self.context)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.probe)

    def start(self, name: str, module: str, *params: str) -> subprocess.Popen:
        args = [sys.executable, "-m", f"embodied_mm.ros.{module}", "--ros-args"]
        for p in params:
            args += ["-p", p]
        log = open(self.log_dir / f"{name}.log", "w")
        proc = subprocess.Popen(args, cwd=REPO, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text()

    def spin_until(self, predicate, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.05)
            if predicate():
                return True
        return False

    def spin_for(self, seconds: float) -> None:
        self.spin_until(lambda: False, seconds)

    def stop(self, name: str, sig=signal.SIGINT, timeout_s: float = 10.0) -> int:
        proc = self.procs[name]
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return proc.returncode

    def close(self) -> None:
        for name in list(self.procs):
            self.stop(name)
        self.executor.shutdown()
        self.probe.destroy_node()
        rclpy.shutdown(context=self.context)


@pytest.fixture
def graph(tmp_path):
    g = Graph(random.randint(20, 99), tmp_path)
    yield g
    g.close()
