"""`embodied-mm teleop | report | export`: registered, localhost by default, bad input refused
before any process starts, the token on no command line and printed on this terminal only."""

from __future__ import annotations

import io
import os
import stat

import pytest

from embodied_mm.cli import main as cli
from embodied_mm.launch_runner.resolve import resolve_launch
from embodied_mm.paths import share_dir
from embodied_mm.teleop.access import write_token_file
from embodied_mm.teleop.cli import announce_when_ready, launch_arguments, parser
from embodied_mm.teleop.web import ConsoleServer

TOKEN = "cli-test-token-0123456789"


def test_teleop_serves_on_localhost_unless_told_otherwise():
    args = launch_arguments(parser().parse_args([]), "/tmp/t")
    assert "host:=127.0.0.1" in args and "token_file:=/tmp/t" in args and "sim:=true" in args
    exposed = launch_arguments(parser().parse_args(["--host", "0.0.0.0", "--no-sim"]), "/t")
    assert "host:=0.0.0.0" in exposed and "perception:=color" in exposed


def test_no_process_gets_the_token_on_its_command_line(tmp_path):
    token_file = write_token_file(tmp_path / "token", TOKEN)
    specs = resolve_launch(share_dir() / "launch" / "teleop_eval.launch.yaml",
                           dict(a.split(":=", 1) for a in launch_arguments(
                               parser().parse_args([]), token_file)))
    console = next(s for s in specs if s.label == "teleop_console")
    assert f"token_file:={token_file}" in console.cmd
    assert not any(TOKEN in arg for spec in specs for arg in spec.cmd)


@pytest.mark.parametrize("argv, message", [
    (["--port", "99999"], "--port must be in 0..65535"),
    (["--planner", "nosuch"], "unknown planner 'nosuch'"),
    (["--task", "juggle"], "unknown task 'juggle'"),
    (["--seed", "-5"], "--seed must be in"),
    (["--image-hz", "0"], "--image-hz must be in"),
    (["--host", "no such host.invalid"], "cannot resolve"),
])
def test_bad_options_fail_before_any_process_starts(argv, message, capsys, monkeypatch):
    import embodied_mm.launch_runner as launch_runner

    monkeypatch.setattr(launch_runner, "main", lambda *a: pytest.fail("the graph started"))
    with pytest.raises(SystemExit) as exit_info:
        cli(["teleop", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_token_file_others_can_read_is_refused(tmp_path, capsys):
    path = write_token_file(tmp_path / "token", TOKEN)
    os.chmod(path, 0o644)
    with pytest.raises(SystemExit) as exit_info:
        cli(["teleop", "--token-file", str(path)])
    assert exit_info.value.code == 2
    assert "readable by others" in capsys.readouterr().err
    os.chmod(path, 0o600)
    (tmp_path / "short").write_text("abc")
    os.chmod(tmp_path / "short", stat.S_IRUSR | stat.S_IWUSR)
    with pytest.raises(SystemExit):
        cli(["teleop", "--token-file", str(tmp_path / "short")])
    assert "16 characters" in capsys.readouterr().err


def test_the_url_is_printed_once_the_console_answers():
    class Quiet:
        def snapshot(self) -> dict:
            return {}

    server = ConsoleServer(Quiet(), TOKEN, port=0)
    out = io.StringIO()
    thread = announce_when_ready(server.url, "127.0.0.1", server.port or 1, 0.1, out)
    thread.join()
    assert out.getvalue() == ""  # nobody answers yet: nothing printed
    server.start()
    try:
        announce_when_ready(server.url, "127.0.0.1", server.port, 10, out).join()
    finally:
        server.stop()
    assert out.getvalue() == f"operator console: http://127.0.0.1:{server.port}/?token={TOKEN}\n"


def test_report_and_export_name_the_bad_folder(tmp_path, capsys):
    assert cli(["report", str(tmp_path)]) == 2
    assert cli(["export", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "embodied-mm report: error:" in err and "not a teleop session" in err


def test_an_exposed_host_is_warned_about_and_the_token_file_removed(capsys, monkeypatch):
    import embodied_mm.launch_runner as launch_runner

    seen = {}

    def fake_launch(argv):
        token_file = next(a.split(":=", 1)[1] for a in argv if a.startswith("token_file:="))
        seen["mode"] = stat.S_IMODE(os.stat(token_file).st_mode)
        seen["file"] = token_file
        return 0

    monkeypatch.setattr(launch_runner, "main", fake_launch)
    assert cli(["teleop", "--host", "0.0.0.0", "--port", "0"]) == 0
    assert "exposes the console to other machines" in capsys.readouterr().err
    assert seen["mode"] == 0o600 and not os.path.exists(seen["file"])
