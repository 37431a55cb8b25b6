"""The episode runner survives a bad scene: perception stalls (SIGSTOP) for one episode of
three in the real graph (sim, gt perception, oracle planner, executor as processes over DDS);
the runner records that episode as failed with the reason and runs the rest to success. A
terminal step counts whichever of its plan message and its status arrives first."""

from __future__ import annotations

import json
import os
import signal

import pytest
from std_msgs.msg import String

from embodied_mm.ros import qos as ros_qos
from embodied_mm.ros import topics

pytestmark = [pytest.mark.ros, pytest.mark.sim, pytest.mark.slow]

PERCEPTION_WAIT_S = 6.0  # the runner's wait for perception; normally < 1 s here


def test_perception_stall_fails_one_episode_and_the_evaluation_goes_on(graph, tmp_path):
    overrides = "overrides:=planner=oracle task=pick_place seed=40"
    graph.start("sim", "sim_node", "overrides:=task=stack seed=9")  # another scene at start
    perception = graph.start("perception", "perception_node", "mode:=gt")
    graph.start("executor", "executor_node", overrides)
    graph.start("planner", "planner_node", overrides)
    plans: list[str] = []
    graph.probe.create_subscription(String, topics.PLAN, lambda m: plans.append(m.data),
                                    ros_qos.RELIABLE_QOS)
    seeds: list[int] = []  # of the scenes the sim loaded
    graph.probe.create_subscription(String, topics.EPISODE,
                                    lambda m: seeds.append(json.loads(m.data)["seed"]),
                                    ros_qos.LATCHED_QOS)
    assert graph.spin_until(lambda: graph.probe.count_publishers(topics.PLAN) > 0, 60), \
        graph.log("planner")
    out = tmp_path / "eval"
    runner = graph.start("runner", "episode_runner", overrides, "episodes:=3",
                         f"out_dir:={out}", f"perception_wait_s:={PERCEPTION_WAIT_S}",
                         "episode_timeout_s:=60.0")
    try:
        # Episode 1 ends with done(): stop perception before the runner asks for episode 2.
        assert graph.spin_until(lambda: "done()" in plans or runner.poll() is not None, 90), \
            graph.log("runner")
        os.kill(perception.pid, signal.SIGSTOP)
        assert seeds[-1] == 40, seeds  # still episode 1: the stall hits episode 2
        # The runner gives up on episode 2 and loads episode 3: perception comes back.
        assert graph.spin_until(lambda: seeds[-1] == 42 or runner.poll() is not None,
                                PERCEPTION_WAIT_S + 40), graph.log("runner")
    finally:
        os.kill(perception.pid, signal.SIGCONT)
    assert graph.spin_until(lambda: runner.poll() is not None, 90), graph.log("runner")
    assert runner.returncode == 0, graph.log("runner")

    rows = json.loads((out / "eval_info.json").read_text())["per_episode"]
    assert [(r["task"], r["seed"]) for r in rows] == [("pick_place", s) for s in (40, 41, 42)]
    first, stalled, third = rows
    assert first["success"] and first["outcome"] == "done", first
    assert not stalled["success"] and stalled["outcome"] == "perception_timeout", stalled
    assert stalled["instruction"] and stalled["steps"] == [], stalled
    reason = stalled["skill_outcomes"][-1]["reason"]
    assert "perception to see the new scene" in reason, stalled
    # Nothing of the failed episode leaks into the next: its plan is its own, start to end.
    assert third["success"] and third["outcome"] == "done", third
    assert third["steps"][-1] == "done()" and len(third["steps"]) == 3, third


@pytest.mark.parametrize("plan_first", [True, False])
def test_a_terminal_step_counts_whether_its_plan_or_its_status_arrives_first(plan_first):
    """The planner's plan message and the executor's status of the same `cannot()` are on
    two topics, with no order between them: the runner must count the step either way (the
    success check waits until the sim has seen as many steps as the runner), and count it
    once."""
    import random
    import time

    import rclpy

    from embodied_mm.ros.episode_runner import EpisodeRunnerNode

    rclpy.init(args=["--ros-args", "-p", "overrides:=planner=oracle"],
               domain_id=random.randint(100, 200))
    node = EpisodeRunnerNode()
    try:
        plan = ("plan", {"step": "cannot()", "t": time.monotonic()})
        status = ("status", {"source": "executor", "status": "terminal", "step": "cannot()",
                             "reason": ""})
        for kind, data in ([plan, status] if plan_first else [status, plan]):
            node._notify(kind, data)
        steps, latencies, outcomes, outcome = node._follow(frozenset())
        assert (steps, outcome) == (["cannot()"], "cannot")
        assert len(latencies) == 1 and [o["status"] for o in outcomes] == ["terminal"]
    finally:
        node.destroy_node()
        rclpy.shutdown()
