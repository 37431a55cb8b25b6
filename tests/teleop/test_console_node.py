"""The console node on its own (no sim): commands refused with reasons when they make no
sense, and SIGTERM finalises the open episode's MCAP and the session index."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
from teleop_helpers import REPO, TOKEN, ConsoleClient, free_port

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_commands_and_clean_shutdown(ros_env, tmp_path):
    from mcap.reader import make_reader

    session, port = tmp_path / "session", free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "embodied_mm.ros.teleop_console", "--ros-args",
         "-p", f"out_dir:={session}", "-p", f"port:={port}", "-p", f"token:={TOKEN}"],
        cwd=REPO, env=ros_env, stdout=open(tmp_path / "console.log", "w"),
        stderr=subprocess.STDOUT)
    api = ConsoleClient(port)
    try:
        api.wait_until(lambda s: s["mode"] == "planner", 30, "the console",
                       (tmp_path / "console.log").read_text)
        assert "take over first" in api.command("jog", linear=[1, 0, 0], yaw=0)["error"]
        assert "no episode to label" in api.command("label", label="success")["error"]
        assert "type an instruction" in api.command("run", instruction="  ")["error"]
        assert "unknown command" in api.command("fly")["error"]
        assert api.command("run", instruction="put the red block in the blue bowl")["ok"]
        assert "no planned step" in api.command("approve")["error"]
        assert api.command("takeover")["ok"]
        assert "within -1..1" in api.command("jog", linear=[5, 0, 0], yaw=0)["error"]
        assert "finite" in api.command("jog", linear=["nan", 0, 0], yaw=0)["error"]
        assert api.command("jog", linear=[0, 0, 1], yaw=0.5)["ok"]
        assert "not a valid step" in api.command("step", step="fly(obj_1)")["error"]
        assert "label must be" in api.command("label", label="maybe")["error"]
        assert api.command("estop")["ok"] and api.state()["estop"] is True
        # Everything published so far has come back through DDS into the recording.
        api.wait_until(lambda s: s["messages"] >= 5, 10, "the recorder")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    index = json.loads((session / "session.json").read_text())
    entry = index["episodes"][0]
    assert entry["status"] == "finalised" and entry["label"] is None
    with open(session / entry["file"], "rb") as f:
        summary = make_reader(f).get_summary()  # finalised: the summary section is there
    topics = {c.topic for c in summary.channels.values()}
    assert {"/embodied_mm/instruction", "/embodied_mm/teleop/twist",
            "/embodied_mm/teleop/active", "/embodied_mm/estop",
            "/embodied_mm/teleop/label"} <= topics
