"""Exposure: ROS discovery stays on this machine unless the user asks for more.

Node entry points (`run_node`) and every process `embodied-mm launch` starts get
`ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST` when the variable is unset; a range the user set
(`SUBNET` for a robot PC + GPU PC) or a launch file's `env` entry wins.
"""

from __future__ import annotations

import io
import sys
import textwrap

import pytest

from embodied_mm.launch_runner.resolve import resolve_launch
from embodied_mm.launch_runner.runner import run
from embodied_mm.ros.dds import DISCOVERY_RANGE, default_discovery

PRINT_RANGE = (f"{sys.executable} -c "
               f"'import os; print(\"range=\" + os.environ[\"{DISCOVERY_RANGE}\"])'")


def test_default_is_localhost_and_a_chosen_range_is_kept():
    assert default_discovery({})[DISCOVERY_RANGE] == "LOCALHOST"
    assert default_discovery({DISCOVERY_RANGE: ""})[DISCOVERY_RANGE] == "LOCALHOST"
    assert default_discovery({DISCOVERY_RANGE: "SUBNET"})[DISCOVERY_RANGE] == "SUBNET"


def _launched_range(tmp_path) -> str:
    path = tmp_path / "env.launch.yaml"
    path.write_text("launch:\n" + textwrap.indent(textwrap.dedent(f"""\
        - executable:
            cmd: {PRINT_RANGE}
            name: show
            output: screen
        """), "  "))
    out = io.StringIO()
    assert run(resolve_launch(path, {}), out=out, err=io.StringIO()) == 0
    return next(line.split("range=")[1] for line in out.getvalue().splitlines()
                if "range=" in line)


@pytest.mark.parametrize("user, expected", [(None, "LOCALHOST"), ("SUBNET", "SUBNET")])
def test_launched_processes_discover_on_localhost_unless_told(tmp_path, monkeypatch, user,
                                                               expected):
    if user is None:
        monkeypatch.delenv(DISCOVERY_RANGE, raising=False)
    else:
        monkeypatch.setenv(DISCOVERY_RANGE, user)
    assert _launched_range(tmp_path) == expected


def test_launch_file_env_entry_wins(tmp_path, monkeypatch):
    monkeypatch.delenv(DISCOVERY_RANGE, raising=False)
    path = tmp_path / "env.launch.yaml"
    path.write_text(textwrap.dedent(f"""\
        launch:
          - executable:
              cmd: {PRINT_RANGE}
              output: screen
              env: [{{name: {DISCOVERY_RANGE}, value: SYSTEM_DEFAULT}}]
        """))
    out = io.StringIO()
    assert run(resolve_launch(path, {}), out=out, err=io.StringIO()) == 0
    assert "range=SYSTEM_DEFAULT" in out.getvalue()
