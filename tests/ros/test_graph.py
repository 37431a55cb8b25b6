"""The whole sim graph through `embodied-mm launch`: episodes succeed, the MCAP holds the run,
the executor reaches the sim only through the controller topics, and nothing is left running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory

from embodied_mm.ros import qos as ros_qos
from embodied_mm.ros import topics

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.ros, pytest.mark.sim, pytest.mark.slow]

REQUIRED_TOPICS = {topics.COLOR, topics.JOINT_STATES, topics.PLAN, topics.ARM_TRAJECTORY,
                   topics.GRIPPER_TRAJECTORY, topics.SKILL_STATUS, topics.INSTRUCTION}


def _launch(graph, tmp_path: Path, *args: str, timeout_s: float = 240) -> dict:
    """Runs `embodied-mm launch launch/tabletop_sim.launch.yaml *args` to its end (spinning the
    probe meanwhile); fails the test if it overruns or exits non-zero. Returns eval_info.json."""
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "embodied_mm.cli", "launch", "launch/tabletop_sim.launch.yaml",
         *args, f"out_dir:={out}"],
        cwd=REPO, env=graph.env,
        stdout=open(tmp_path / "launch.log", "w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        graph.spin_for(0.5)
    log = (tmp_path / "launch.log").read_text()
    if proc.poll() is None:  # SIGINT: the runner stops every node it started
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"launch did not finish in time:\n{log[-3000:]}")
    assert proc.returncode == 0, log[-3000:]
    return json.loads((out / "eval_info.json").read_text())


def test_launch_runs_episodes_records_mcap_and_exits(graph, tmp_path):
    from mcap.reader import make_reader

    # While it runs, this process sees the executor's commands on the controller topics.
    commands = []
    graph.probe.create_subscription(JointTrajectory, topics.ARM_TRAJECTORY,
                                    lambda m: commands.append(m), ros_qos.RELIABLE_QOS)
    plans = []
    graph.probe.create_subscription(String, topics.PLAN, lambda m: plans.append(m.data),
                                    ros_qos.RELIABLE_QOS)
    info = _launch(graph, tmp_path, "planner:=oracle", "task:=all", "episodes:=3", "seed:=5")
    out = tmp_path / "run"
    assert info["overall"]["n_episodes"] == 3
    assert info["overall"]["success_rate"] >= 2 / 3, json.dumps(info["per_episode"], indent=1)
    assert commands and plans  # the commands crossed process boundaries over DDS
    assert {tuple(c.joint_names) for c in commands} == {topics.ARM_JOINTS}
    with open(out / "run.mcap", "rb") as f:
        reader = make_reader(f)
        summary = reader.get_summary()
        recorded = {ch.topic for ch in summary.channels.values()}
        counts = summary.statistics.channel_message_counts
        by_topic = {summary.channels[cid].topic: n for cid, n in counts.items()}
    assert REQUIRED_TOPICS <= recorded
    assert all(by_topic.get(t, 0) > 0 for t in REQUIRED_TOPICS), by_topic
    # No node process outlives the launch.
    leftovers = subprocess.run(["pgrep", "-f", f"out_dir:={out}"], capture_output=True,
                               text=True).stdout.split()
    assert not leftovers


def test_sort_by_color_through_the_graph_with_the_learned_perception(graph, tmp_path):
    """The camera-only path end to end: the learned instance model sees each block and bowl
    (blocks end up in bowls of their own colour, where colour mode loses them), the object
    memory carries the block in the hand, and the episode succeeds."""
    info = _launch(graph, tmp_path, "planner:=oracle", "perception:=learned",
                   "task:=sort_by_color", "episodes:=1", "seed:=1034", timeout_s=300)
    (episode,) = info["per_episode"]
    assert episode["success"], json.dumps(episode, indent=1)
    assert episode["outcome"] == "done", json.dumps(episode, indent=1)
