"""House rules: `embodied_mm` imports neither rclpy nor pybullet at import time."""

from __future__ import annotations

import subprocess
import sys

MODULES = ["embodied_mm.cli", "embodied_mm.executor", "embodied_mm.skills",
           "embodied_mm.planner", "embodied_mm.eval.evaluate", "embodied_mm.run",
           "embodied_mm.demo", "sim.tasks"]


def test_no_simulator_or_ros_at_import_time():
    code = ("import sys\n" + "".join(f"import {m}\n" for m in MODULES) +
            "bad = [m for m in ('pybullet', 'rclpy') if m in sys.modules]\n"
            "assert not bad, bad\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
