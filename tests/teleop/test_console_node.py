"""The console node on its own (no sim): commands refused with reasons when they make no
sense, the token in no log and on no command line, and SIGTERM finalises the open episode's
MCAP and the session index."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from teleop_helpers import (
    REPO,
    TOKEN,
    ConsoleClient,
    close_a_page,
    free_port,
    open_page,
    stop_console,
)

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_commands_and_clean_shutdown(ros_env, tmp_path):
    from mcap.reader import make_reader

    from embodied_mm.teleop.access import write_token_file

    session, port = tmp_path / "session", free_port()
    token_file = write_token_file(tmp_path / "token", TOKEN)
    ros_env = {**ros_env, "ROS_LOG_DIR": str(tmp_path / "ros_log")}
    cmd = [sys.executable, "-m", "embodied_mm.ros.teleop_console", "--ros-args",
           "-p", f"out_dir:={session}", "-p", f"port:={port}", "-p", f"token_file:={token_file}"]
    assert not any(TOKEN in arg for arg in cmd)
    proc = subprocess.Popen(cmd, cwd=REPO, env=ros_env,
                            stdout=open(tmp_path / "console.log", "w"), stderr=subprocess.STDOUT)
    api = ConsoleClient(port)
    try:
        api.wait_until(lambda s: s["mode"] == "planner", 30, "the console",
                       (tmp_path / "console.log").read_text)
        assert "take over first" in api.command("jog", linear=[1, 0, 0], yaw=0)["error"]
        assert "no episode to label" in api.command("label", label="success")["error"]
        assert "type an instruction" in api.command("run", instruction="  ")["error"]
        assert "unknown command" in api.command("fly")["error"]
        assert "unknown task" in api.command("scene", task="juggle", seed=1)["error"]
        assert "seed (an integer)" in api.command("scene", task="stack", seed="x")["error"]
        assert api.command("run", instruction="put the red block in the blue bowl")["ok"]
        assert "no planned step" in api.command("approve")["error"]
        assert api.command("takeover")["ok"]
        assert "within -1..1" in api.command("jog", linear=[5, 0, 0], yaw=0)["error"]
        assert "finite" in api.command("jog", linear=["nan", 0, 0], yaw=0)["error"]
        assert api.command("jog", linear=[0, 0, 1], yaw=0.5)["ok"]
        assert "not a valid step" in api.command("step", step="fly(obj_1)")["error"]
        assert "label must be" in api.command("label", label="maybe")["error"]
        # The operator's page goes away during the take-over: the console e-stops.
        close_a_page(port)
        api.wait_until(lambda s: s["estop"] is True, 10, "the e-stop after the page closed")
        api.wait_until(lambda s: "console disconnected during a take-over" in (
            tmp_path / "console.log").read_text(), 5, "the log line saying why")
        assert api.command("release")["ok"] and api.state()["estop"] is False
        assert api.command("estop")["ok"] and api.state()["estop"] is True
        # Malformed input is an error reply, never an e-stop or a lost state.
        assert "finite" in api.command("scene", task="stack", seed=1e300 * 1e300)["error"]
        assert "seed must be in" in api.command("scene", task="stack", seed=2**40)["error"]
        assert api.state()["estop"] is True and api.state()["mode"] == "operator"
        # Everything published so far has come back through DDS into the recording.
        api.wait_until(lambda s: s["messages"] >= 5, 10, "the recorder")
    finally:
        # A page still open must not hold the shutdown up.
        with open_page(port):
            stop_console(proc, tmp_path / "console.log")
    logged = (tmp_path / "console.log").read_text()
    assert f"operator console on http://127.0.0.1:{port}/ (token in {token_file}" in logged
    ros_logs = [p.read_text(errors="replace") for p in (tmp_path / "ros_log").rglob("*")
                if p.is_file()]
    assert ros_logs and any("operator console on" in text for text in ros_logs)
    assert all(TOKEN not in text for text in [logged, *ros_logs])
    index = json.loads((session / "session.json").read_text())
    entry = index["episodes"][0]
    assert entry["status"] == "finalised" and entry["label"] is None
    with open(session / entry["file"], "rb") as f:
        summary = make_reader(f).get_summary()  # finalised: the summary section is there
    topics = {c.topic for c in summary.channels.values()}
    assert {"/embodied_mm/instruction", "/embodied_mm/teleop/twist",
            "/embodied_mm/teleop/active", "/embodied_mm/estop",
            "/embodied_mm/teleop/label"} <= topics


def test_step_approval_forwards_approved_steps_and_answers_rejected_ones(ros_env, tmp_path,
                                                                          monkeypatch):
    """Approval mode with a stand-in planner in this process: a proposed step waits, an
    approved one reaches the executor's topic, a rejected one is answered to the planner."""
    import rclpy
    from diagnostic_msgs.msg import DiagnosticStatus
    from std_msgs.msg import String

    from embodied_mm.ros import qos as ros_qos
    from embodied_mm.ros import topics
    from embodied_mm.ros.conversions import status_from_msg

    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    port = free_port()
    proc = subprocess.Popen(  # no token_file: the console writes a fresh one (0600)
        [sys.executable, "-m", "embodied_mm.ros.teleop_console", "--ros-args",
         "-p", f"out_dir:={tmp_path / 'session'}", "-p", f"port:={port}",
         "-p", "approval:=true"],
        cwd=REPO, env=ros_env, stdout=open(tmp_path / "console.log", "w"),
        stderr=subprocess.STDOUT)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(ros_env["ROS_DOMAIN_ID"]))
    node = rclpy.create_node("planner_stand_in", context=context)
    executor = rclpy.executors.SingleThreadedExecutor(context=context)
    executor.add_node(node)
    sent, answers = [], []
    node.create_subscription(String, topics.PLAN, lambda m: sent.append(m.data),
                             ros_qos.RELIABLE_QOS)
    node.create_subscription(DiagnosticStatus, topics.SKILL_STATUS,
                             lambda m: answers.append(status_from_msg(m)), ros_qos.RELIABLE_QOS)
    propose = node.create_publisher(String, topics.PLAN_PROPOSED, ros_qos.RELIABLE_QOS)
    token_file = tmp_path / "session" / "console_token"
    api = ConsoleClient(port, "")

    def spin_until(predicate, what: str) -> None:
        for _ in range(200):
            executor.spin_once(timeout_sec=0.05)
            if predicate():
                return
        pytest.fail(f"timed out waiting for {what}")

    try:
        for _ in range(300):
            if token_file.is_file() and token_file.stat().st_size:
                break
            executor.spin_once(timeout_sec=0.1)
        assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
        api.token = token_file.read_text()
        api.wait_until(lambda s: s["approval"] is True, 30, "the console")
        assert api.command("run", instruction="stack the blocks")["ok"]
        spin_until(lambda: propose.get_subscription_count() > 0, "the console to subscribe")
        # A reliable message sent the moment the writer sees the reader can still miss a
        # reader that has not matched the writer yet (seen in one `make test`): the stand-in
        # proposes again until the console shows it, as a planner would decide again.
        for attempt in range(10):
            propose.publish(String(data="pick(obj_1)"))
            try:
                api.wait_until(lambda s: s["proposed"] == "pick(obj_1)", 1, "the proposal")
                break
            except pytest.fail.Exception:
                if attempt == 9:
                    raise
        assert api.command("approve")["ok"]
        spin_until(lambda: sent == ["pick(obj_1)"], "the approved step on /embodied_mm/plan")
        propose.publish(String(data="place(obj_9)"))
        api.wait_until(lambda s: s["proposed"] == "place(obj_9)", 10, "the second proposal")
        assert api.command("reject")["ok"]
        spin_until(lambda: any(a["source"] == "operator" for a in answers), "the answer")
        answer = next(a for a in answers if a["source"] == "operator")
        assert (answer["step"], answer["status"]) == ("place(obj_9)", "failed")
        assert "rejected" in answer["reason"] and sent == ["pick(obj_1)"]  # never sent
        steps = api.state()["episode"]["steps"]
        assert [(r["decision"], r["intervention"]) for r in steps] == [
            ("approved", False), ("rejected", True)]
        assert api.state()["episode"]["interventions"] == 1
    finally:
        stop_console(proc, tmp_path / "console.log")
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)
