"""House rules on imports: rclpy and ROS message packages only under `embodied_mm/ros/`,
pybullet only under `sim/` (read statically from every module, function-level imports
included), and neither loaded when the core modules are imported."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODULES = ["embodied_mm.cli", "embodied_mm.executor", "embodied_mm.skills",
           "embodied_mm.planner", "embodied_mm.eval.evaluate", "embodied_mm.run",
           "embodied_mm.demo", "sim.tasks", "embodied_mm.ros.topics",
           # what `embodied-mm report` and `export` read MCAP sessions with
           "embodied_mm.teleop.session", "embodied_mm.teleop.episode_log",
           "embodied_mm.eval.session_report", "embodied_mm.data.export"]
ROS_PACKAGES = frozenset({"rclpy", "builtin_interfaces", "std_msgs", "std_srvs", "sensor_msgs",
                          "geometry_msgs", "trajectory_msgs", "visualization_msgs",
                          "diagnostic_msgs", "rcl_interfaces", "rosidl_runtime_py"})
# Files that still break a rule, to move under embodied_mm/ros/ (teleop's ROS node and
# recorder). The list may only shrink: a file that no longer breaks the rule fails the test.
KNOWN_ROS_OUTSIDE_ROS = frozenset({"embodied_mm/teleop/console_node.py",
                                   "embodied_mm/teleop/recorder.py"})


def imported_packages(path: Path) -> set[str]:
    """Top-level names of every package `path` imports, anywhere in the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _sources() -> dict[str, set[str]]:
    files = sorted((REPO / "embodied_mm").rglob("*.py")) + sorted((REPO / "sim").rglob("*.py"))
    return {str(f.relative_to(REPO)): imported_packages(f) for f in files}


def test_ros_is_imported_only_under_embodied_mm_ros():
    breaking = {path for path, names in _sources().items()
                if names & ROS_PACKAGES and not path.startswith("embodied_mm/ros/")}
    assert breaking == KNOWN_ROS_OUTSIDE_ROS


def test_pybullet_is_imported_only_under_sim():
    breaking = [path for path, names in _sources().items()
                if "pybullet" in names or "pybullet_data" in names
                if not path.startswith("sim/")]
    assert not breaking


@pytest.mark.parametrize("source, expected", [
    ("import rclpy.node\nfrom std_msgs.msg import String\n", {"rclpy", "std_msgs"}),
    ("def f():\n    import pybullet as p\n", {"pybullet"}),
    ("from . import topics\nfrom .qos import X\n", set()),
])
def test_imports_are_found_anywhere_in_a_module(tmp_path, source, expected):
    path = tmp_path / "m.py"
    path.write_text(source)
    assert imported_packages(path) == expected


def test_no_simulator_or_ros_at_import_time():
    code = ("import sys\n" + "".join(f"import {m}\n" for m in MODULES) +
            "bad = [m for m in ('pybullet', 'rclpy') if m in sys.modules]\n"
            "assert not bad, bad\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
