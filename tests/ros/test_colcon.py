"""A plain (copying, not `--symlink-install`) `colcon build` of the package in a workspace;
a node started from the install space, with the workspace not sourced, loads its
configuration from the installed share directory and joins the graph."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from embodied_mm.ros import topics

REPO = Path(__file__).resolve().parents[2]
# What a source checkout of the package holds (setup.py installs these).
PACKAGE_FILES = ["embodied_mm", "sim", "configs", "launch", "checkpoints", "resource",
                 "package.xml", "setup.py", "setup.cfg", "pyproject.toml", "README.md"]
COLCON = shutil.which("colcon") or shutil.which("colcon", path=str(Path(sys.executable).parent))

# colcon comes with the dev extra that `make test` installs: without it the test fails.
pytestmark = [pytest.mark.colcon, pytest.mark.ros, pytest.mark.slow]


def _workspace(root: Path) -> Path:
    src = root / "src" / "embodied_mm"
    src.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in PACKAGE_FILES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    return root


def test_plain_colcon_build_then_a_node_from_the_install_space_loads_its_config(graph,
                                                                                tmp_path):
    assert COLCON is not None, "colcon is missing: `make test` installs it (dev extra)"
    ws = _workspace(tmp_path / "ws")
    env = {k: v for k, v in graph.env.items() if k not in ("AMENT_PREFIX_PATH", "PYTHONPATH")}
    build = subprocess.run([COLCON, "build"], cwd=ws, env=env, capture_output=True, text=True,
                           timeout=300)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    install = ws / "install" / "embodied_mm"
    site = next(install.glob("lib/python*/site-packages"))
    assert not (site / "embodied_mm").is_symlink()
    env["PYTHONPATH"] = str(site)
    probe = subprocess.run(
        [sys.executable, "-c", "import embodied_mm.paths as p; print(p.__file__); "
         "print(p.share_dir())"], cwd=tmp_path, env=env, capture_output=True, text=True)
    module, share = probe.stdout.split()
    assert Path(module).is_relative_to(install) and Path(share) == install / "share" / "embodied_mm"

    node = install / "lib" / "embodied_mm" / "planner_node"
    log = open(tmp_path / "planner.log", "w")
    proc = subprocess.Popen([sys.executable, str(node), "--ros-args", "-p",
                             "overrides:=planner=oracle task=stack"], cwd=tmp_path, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    graph.procs["planner"] = proc  # stopped by the fixture
    listens = lambda: any(info.node_name == "planner" for info in
                          graph.probe.get_subscriptions_info_by_topic(topics.INSTRUCTION))
    assert graph.spin_until(listens, 60), (tmp_path / "planner.log").read_text()[-3000:]
    assert proc.poll() is None
