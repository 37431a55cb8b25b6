"""House rules on imports: rclpy and ROS message packages only under `embodied_mm/ros/`,
pybullet only under `sim/` (read statically from every module, function-level imports
included), neither loaded when the core modules are imported, and no import cycles between
the project's modules (function-level imports count: a lazy import only hides a cycle)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODULES = ["embodied_mm.cli", "embodied_mm.executor", "embodied_mm.skills",
           "embodied_mm.planner", "embodied_mm.eval.evaluate", "embodied_mm.run",
           "embodied_mm.demo", "embodied_mm.tasks", "embodied_mm.ros.topics",
           # what `embodied-mm report` and `export` read MCAP sessions with
           "embodied_mm.teleop.session", "embodied_mm.teleop.episode_log",
           "embodied_mm.eval.session_report", "embodied_mm.data.export"]
ROS_PACKAGES = frozenset({"rclpy", "builtin_interfaces", "std_msgs", "std_srvs", "sensor_msgs",
                          "geometry_msgs", "trajectory_msgs", "visualization_msgs",
                          "diagnostic_msgs", "rcl_interfaces", "rosidl_runtime_py"})


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
    breaking = [path for path, names in _sources().items()
                if names & ROS_PACKAGES and not path.startswith("embodied_mm/ros/")]
    assert not breaking


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


def test_task_families_are_core_code_that_never_reaches_into_sim():
    """The task families (scenes, goals, success predicates, oracles) are pure Python that
    planners, data and evaluation import; the simulator depends on them, never the reverse."""
    reaching = [path for path, names in _sources().items()
                if path.startswith("embodied_mm/tasks/") and "sim" in names]
    assert not reaching
    proc = subprocess.run([sys.executable, "-c", "import sys, embodied_mm.tasks\n"
                           "assert not [m for m in sys.modules if m.split('.')[0] == 'sim']"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_no_simulator_or_ros_at_import_time():
    code = ("import sys\n" + "".join(f"import {m}\n" for m in MODULES) +
            "bad = [m for m in ('pybullet', 'rclpy') if m in sys.modules]\n"
            "assert not bad, bad\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(path: Path, modules: set[str]) -> set[str]:
    """The project modules `path` imports anywhere; `from package import submodule` counts as
    importing the submodule (and not the package's `__init__` imports)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & modules
            names |= submodules or {node.module}
    return names & modules


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other (strongly connected components, Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while not group or group[-1] != module:
                group.append(stack.pop())
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycles():
    files = sorted((REPO / "embodied_mm").rglob("*.py")) + sorted((REPO / "sim").rglob("*.py"))
    modules = {module_name(f) for f in files}
    graph = {module_name(f): project_imports(f, modules) - {module_name(f)} for f in files}
    assert import_cycles(graph) == []


def test_import_cycles_are_found():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []
