"""Running launches with fake nodes: prefixed output, failures, on_exit, respawn, signals.

Run: python -m pytest -q tests/launch_runner/test_runner.py
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from embodied_mm.launch_runner.resolve import resolve_launch
from embodied_mm.launch_runner.runner import ProcessSpec, run

# A fake node; its behaviour comes from `--key value` pairs before `--ros-args`.
FAKE_NODE = """\
import os, signal, subprocess, sys, time
argv = sys.argv[1:]
argv = argv[:argv.index("--ros-args")] if "--ros-args" in argv else argv
opts = dict(zip(argv[::2], argv[1::2]))
if "--ignore-sigint" in opts:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
if "--grandchild" in opts:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    open(opts["--grandchild"], "w").write(f"{child.pid}\\n")
if "--append" in opts:
    open(opts["--append"], "a").write(f"{os.getpid()}\\n")
if "--say" in opts:
    print(opts["--say"])
    print("err:" + opts["--say"], file=sys.stderr)
time.sleep(float(opts.get("--sleep", 0)))
sys.exit(int(opts.get("--exit", 0)))
"""


@pytest.fixture
def prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An ament-like prefix whose package `fakepkg` has the executable `node`."""
    root = tmp_path / "prefix"
    node = root / "lib" / "fakepkg" / "node"
    node.parent.mkdir(parents=True)
    node.write_text(f"#!{sys.executable}\n{FAKE_NODE}")
    node.chmod(0o755)
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(root))
    return root


def launch(tmp_path: Path, body: str) -> tuple[int, str, str]:
    """Write a launch file, run it in-process, return (exit code, stdout, stderr)."""
    path = tmp_path / "t.launch.yaml"
    path.write_text("launch:\n" + textwrap.indent(textwrap.dedent(body), "  "))
    out, err = io.StringIO(), io.StringIO()
    code = run(resolve_launch(path, {}), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def test_output_of_two_nodes_is_prefixed(tmp_path, prefix):
    code, out, err = launch(tmp_path, """\
        - node: {pkg: fakepkg, exec: node, name: a, args: --say hello-a, output: screen}
        - node: {pkg: fakepkg, exec: node, name: b, args: --say hello-b, output: screen}
        """)
    assert code == 0
    assert "[a] hello-a\n" in out and "[b] hello-b\n" in out
    assert "[a] err:hello-a\n" in err and "[b] err:hello-b\n" in err
    for label in "ab":
        assert f"[runner] {label} (pid " in out and out.count("exited with 0") == 2


def test_failing_node_stops_the_others_and_sets_the_exit_code(tmp_path, prefix):
    started = time.monotonic()
    code, out, _ = launch(tmp_path, f"""\
        - node: {{pkg: fakepkg, exec: node, name: ok, args: --sleep 30 --append {tmp_path}/ok}}
        - node: {{pkg: fakepkg, exec: node, name: bad, args: --sleep 0.3 --exit 3}}
        """)
    assert code == 3
    assert "t.launch.yaml:3) failed: stopping ok\n" in out
    assert all(not alive(pid) for pid in pids(tmp_path / "ok"))
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("exit_code", [0, 4])
def test_on_exit_shutdown_ends_the_launch_with_that_code(tmp_path, prefix, exit_code):
    code, out, _ = launch(tmp_path, f"""\
        - node: {{pkg: fakepkg, exec: node, name: other, args: --sleep 30}}
        - node:
            pkg: fakepkg
            exec: node
            name: main
            args: --sleep 0.3 --exit {exit_code}
            on_exit: shutdown
        """)
    assert code == exit_code
    assert "main exited and has on_exit: shutdown: stopping other" in out


def test_respawn_restarts_a_node_up_to_its_retries(tmp_path, prefix):
    code, out, _ = launch(tmp_path, f"""\
        - node:
            pkg: fakepkg
            exec: node
            name: flaky
            args: --append {tmp_path}/starts --exit 1
            respawn: 'true'
            respawn_delay: 0.1
            respawn_max_retries: 2
        """)
    assert len(pids(tmp_path / "starts")) == 3
    assert "flaky started (pid" in out and ", respawn 2)" in out
    assert code == 1  # retries exhausted: the node failed


def test_respawn_stops_when_the_launch_shuts_down(tmp_path, prefix):
    code, _, _ = launch(tmp_path, f"""\
        - node: {{pkg: fakepkg, exec: node, name: timer, args: --sleep 1.5, on_exit: shutdown}}
        - node:
            pkg: fakepkg
            exec: node
            name: again
            args: --append {tmp_path}/starts
            respawn: 'true'
            respawn_delay: 0.1
        """)
    assert code == 0 and len(pids(tmp_path / "starts")) >= 2


def test_a_command_that_cannot_start_fails_the_launch(tmp_path, prefix):
    out = io.StringIO()
    code = run([ProcessSpec(label="ghost", cmd=(str(tmp_path / "no-such-program"),))], out=out)
    assert code == 127 and "cannot start ghost" in out.getvalue()


def test_sigint_to_the_runner_stops_every_process_and_grandchild(tmp_path, prefix):
    path = tmp_path / "t.launch.yaml"
    path.write_text(textwrap.dedent(f"""\
        launch:
          - node: {{pkg: fakepkg, exec: node, name: calm,
                    args: --sleep 30 --append {tmp_path}/pids --grandchild {tmp_path}/grand}}
          - node: {{pkg: fakepkg, exec: node, name: stubborn,
                    args: --ignore-sigint 1 --sleep 30 --append {tmp_path}/pids}}
        """))
    runner = subprocess.Popen(
        [sys.executable, "-m", "embodied_mm.launch_runner.cli", str(path),
         "sigterm_timeout:=0.5", "sigkill_timeout:=0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
    deadline = time.monotonic() + 4
    while (len(pids(tmp_path / "pids")) < 2 or not pids(tmp_path / "grand")) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    children = pids(tmp_path / "pids") + pids(tmp_path / "grand")
    assert len(children) == 3, runner.kill()
    runner.send_signal(signal.SIGINT)
    out, _ = runner.communicate(timeout=10)
    assert runner.returncode == 0, out
    assert "got SIGINT: stopping calm, stubborn" in out
    assert "stubborn (pid" in out and "still running: sending SIGTERM" in out
    assert not [pid for pid in children if alive(pid)], out
