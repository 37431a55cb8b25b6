"""`embodied-mm teleop | report | export`: registered, localhost by default, bad input refused."""

from __future__ import annotations

import pytest

from embodied_mm.cli import main as cli
from embodied_mm.teleop.cli import launch_arguments, parser


def test_teleop_serves_on_localhost_unless_told_otherwise():
    args = launch_arguments(parser().parse_args([]))
    assert "host:=127.0.0.1" in args and "token:=auto" in args and "sim:=true" in args
    exposed = launch_arguments(parser().parse_args(["--host", "0.0.0.0", "--no-sim"]))
    assert "host:=0.0.0.0" in exposed and "perception:=color" in exposed


def test_teleop_refuses_a_short_token(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli(["teleop", "--token", "abc"])
    assert exit_info.value.code == 2
    assert "16 characters" in capsys.readouterr().err


def test_report_and_export_name_the_bad_folder(tmp_path, capsys):
    assert cli(["report", str(tmp_path)]) == 2
    assert cli(["export", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "embodied-mm report: error:" in err and "not a teleop session" in err
