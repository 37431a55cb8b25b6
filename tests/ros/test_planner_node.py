"""planner_node in its own process: fresh inputs give a plan step, stale inputs are refused."""

from __future__ import annotations

import json
import random
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from embodied_mm.data.vqa import article
from embodied_mm.plan_language import parse_step
from embodied_mm.robots.kinematics import HOME
from embodied_mm.ros import qos as ros_qos
from embodied_mm.ros import topics
from embodied_mm.ros.conversions import joint_state_msg, objects_to_markers, status_from_msg
from embodied_mm.tasks import TASKS
from embodied_mm.types import ObjectState

pytestmark = pytest.mark.ros


def _scene_objects(episode) -> list[ObjectState]:
    return [ObjectState(f"obj_{i + 1}", s.kind, s.color, np.array([*s.position, 0.02]),
                        np.array([0, 0, 0, 1.0]), s.extent(), None)
            for i, s in enumerate(episode.scene)]


def _planner_io(graph):
    """Probe side of a planner: plans and statuses it publishes, joint/object publishers."""
    plans, statuses = [], []
    graph.probe.create_subscription(String, topics.PLAN, lambda m: plans.append(m.data),
                                    ros_qos.RELIABLE_QOS)
    graph.probe.create_subscription(DiagnosticStatus, topics.SKILL_STATUS,
                                    lambda m: statuses.append(status_from_msg(m)),
                                    ros_qos.RELIABLE_QOS)
    joints = graph.probe.create_publisher(JointState, topics.JOINT_STATES, ros_qos.SENSOR_QOS)
    objects = graph.probe.create_publisher(MarkerArray, topics.OBJECTS, ros_qos.RELIABLE_QOS)
    return plans, statuses, joints, objects


def _announce(graph, episode):
    """Publishes the latched scene description of `episode` and waits until the planner
    listens for instructions; returns the instruction publisher."""
    episode_pub = graph.probe.create_publisher(String, topics.EPISODE, ros_qos.LATCHED_QOS)
    instruction = graph.probe.create_publisher(String, topics.INSTRUCTION, ros_qos.RELIABLE_QOS)
    episode_pub.publish(String(data=json.dumps({"task": episode.task, "seed": episode.seed})))
    assert graph.spin_until(lambda: graph.probe.count_subscribers(topics.INSTRUCTION) > 0, 30)
    graph.spin_for(1.0)
    return instruction


def test_plans_from_fresh_inputs_and_refuses_stale_ones(graph):
    episode = TASKS["pick_place"].sample(5)
    graph.start("planner", "planner_node", "overrides:=planner=oracle", "max_age_s:=0.5")
    plans, statuses, joints, objects = _planner_io(graph)
    instruction = _announce(graph, episode)

    def publish_inputs() -> None:
        now = time.time()
        joints.publish(joint_state_msg(HOME, 0.08, now))
        objects.publish(objects_to_markers(_scene_objects(episode), now))

    # Stale: inputs published once, then the instruction arrives after max_age_s.
    publish_inputs()
    graph.spin_for(1.2)
    instruction.publish(String(data=episode.instruction))
    assert graph.spin_until(lambda: any(s["status"] == "stale" for s in statuses), 10), \
        graph.log("planner")
    stale = next(s for s in statuses if s["status"] == "stale")
    assert "old" in stale["reason"] and stale["source"] == "planner"
    assert plans == []  # nothing planned from stale data

    # Fresh inputs: the planner goes ahead with the first step.
    deadline = time.monotonic() + 10
    while not plans and time.monotonic() < deadline:
        publish_inputs()
        graph.spin_for(0.1)
    assert plans == [f"pick({episode.goal['block']})"], graph.log("planner")


def test_a_step_that_keeps_failing_exhausts_the_step_budget(graph):
    """Every step fails (a skill that can never succeed): after `planner.max_steps` steps the
    planner stops with `gave_up` instead of replanning forever; a new instruction restarts."""
    from embodied_mm.ros.conversions import status_msg

    episode = TASKS["pick_place"].sample(5)
    graph.start("planner", "planner_node", "overrides:=planner=oracle planner.max_steps=3",
                "max_age_s:=0.5")
    plans, statuses, joints, objects = _planner_io(graph)
    executor = graph.probe.create_publisher(DiagnosticStatus, topics.SKILL_STATUS,
                                            ros_qos.RELIABLE_QOS)
    instruction = _announce(graph, episode)

    def run_until_gave_up() -> None:
        answered = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
                s["status"] == "gave_up" for s in statuses):
            now = time.time()
            joints.publish(joint_state_msg(HOME, 0.08, now))
            objects.publish(objects_to_markers(_scene_objects(episode), now))
            if len(plans) > answered:  # the "executor": every step fails
                executor.publish(status_msg("executor", plans[-1], "failed", "could not reach"))
                answered = len(plans)
            graph.spin_for(0.1)

    instruction.publish(String(data=episode.instruction))
    run_until_gave_up()
    gave_up = [s for s in statuses if s["status"] == "gave_up"]
    assert gave_up and "3 steps planned" in gave_up[0]["reason"], (statuses, plans)
    assert len(plans) == 3
    graph.spin_for(1.0)
    assert len(plans) == 3 and graph.procs["planner"].poll() is None  # stopped, alive
    statuses.clear()
    instruction.publish(String(data=episode.instruction))  # the operator retries
    run_until_gave_up()
    assert len(plans) == 6


def test_a_scene_ends_the_running_instruction_only_if_it_was_sent_after_it():
    """The runner sends a scene, then its instruction; the planner may handle the two
    messages in either order (they are on different topics), so the scene's message, handled
    second, must not end the episode its instruction just started. A newer scene does."""
    import rclpy

    from embodied_mm.ros.planner_node import PlannerNode

    episode = TASKS["pick_place"].sample(5)
    scene = String(data=json.dumps({"task": episode.task, "seed": episode.seed}))
    rclpy.init(args=["--ros-args", "-p", "overrides:=planner=oracle"],
               domain_id=random.randint(100, 200))
    node = PlannerNode()
    try:
        node._on_instruction(String(data=episode.instruction), {"source_timestamp": 2})
        node._on_episode(scene, {"source_timestamp": 1})  # sent first, handled second
        deadline = time.monotonic() + 10
        while not node._active and time.monotonic() < deadline:
            time.sleep(0.02)
        node._on_episode(scene, {"source_timestamp": 1})  # again, after the worker started it
        assert node._active
        node._on_episode(scene, {"source_timestamp": 3})  # a scene loaded after it
        assert not node._active
    finally:
        node.close()
        node.destroy_node()
        rclpy.shutdown()


@pytest.mark.sim
def test_learned_planner_refuses_stale_camera_images(graph, tmp_path):
    """A planner that reads images (palme, tiny LLM) plans only when the camera is fresh."""
    from sensor_msgs.msg import Image

    from embodied_mm.model.config import PalmEConfig
    from embodied_mm.model.palme import PalmE
    from embodied_mm.ros.conversions import image_to_msg

    checkpoint = tmp_path / "ckpt"
    PalmE(PalmEConfig(llm="tiny", inputs=("objects", "robot"))).save(checkpoint)
    episode = TASKS["pick_place"].sample(5)
    graph.start("planner", "planner_node", "max_age_s:=0.5", "torch_threads:=1",
                f"overrides:=planner=palme planner.llm=tiny planner.checkpoint={checkpoint}")
    plans, statuses, joints, objects = _planner_io(graph)
    cameras = {key: graph.probe.create_publisher(Image, topic, ros_qos.SENSOR_QOS)
               for key, topic in (("rgb", topics.COLOR), ("depth", topics.DEPTH),
                                  ("seg", topics.OBJECT_MASKS))}
    instruction = graph.probe.create_publisher(String, topics.INSTRUCTION, ros_qos.RELIABLE_QOS)
    assert graph.spin_until(lambda: graph.probe.count_subscribers(topics.COLOR) > 0, 60), \
        graph.log("planner")
    graph.spin_for(1.0)

    def publish(images: bool) -> None:
        now = time.time()
        joints.publish(joint_state_msg(HOME, 0.08, now))
        objects.publish(objects_to_markers(_scene_objects(episode), now))
        if images:
            cameras["rgb"].publish(image_to_msg(np.zeros((240, 320, 3), np.uint8), "rgb8", now))
            cameras["depth"].publish(image_to_msg(np.ones((240, 320), np.float32), "32FC1", now))
            cameras["seg"].publish(image_to_msg(np.full((240, 320), -1, np.int32), "32SC1", now))

    publish(images=True)
    for _ in range(10):  # the images age past max_age_s; joints and objects stay fresh
        publish(images=False)
        graph.spin_for(0.1)
    instruction.publish(String(data=episode.instruction))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(s["status"] == "stale" for s in statuses):
        publish(images=False)
        graph.spin_for(0.1)
    stale = [s for s in statuses if s["status"] == "stale"]
    assert stale and "rgb" in stale[0]["reason"], (statuses, graph.log("planner"))
    assert plans == []
    deadline = time.monotonic() + 20
    while not plans and time.monotonic() < deadline:
        publish(images=True)
        graph.spin_for(0.1)
    assert len(plans) == 1 and parse_step(plans[0], [o.name for o in _scene_objects(episode)])
    assert "planner palme: 1 torch thread(s)" in graph.log("planner")


def test_answers_scene_questions_on_the_topic_pair(graph):
    episode = TASKS["pick_place"].sample(5)
    graph.start("planner", "planner_node", "overrides:=planner=oracle", "max_age_s:=0.5")
    _, _, joints, objects = _planner_io(graph)
    answers: list[dict] = []
    graph.probe.create_subscription(String, topics.ANSWER,
                                    lambda m: answers.append(json.loads(m.data)),
                                    ros_qos.RELIABLE_QOS)
    ask = graph.probe.create_publisher(String, topics.QUESTION, ros_qos.RELIABLE_QOS)
    assert graph.spin_until(lambda: graph.probe.count_subscribers(topics.QUESTION) > 0, 30)
    scene = _scene_objects(episode)
    questions = ["what is obj_1?", "what is obj_9?", "why?"]
    for question in questions:
        deadline = time.monotonic() + 10
        asked = len(answers)
        ask.publish(String(data=question))
        while len(answers) == asked and time.monotonic() < deadline:
            now = time.time()
            joints.publish(joint_state_msg(HOME, 0.08, now))
            objects.publish(objects_to_markers(scene, now))
            graph.spin_for(0.1)
    assert [a["question"] for a in answers] == questions, graph.log("planner")
    first = scene[0]
    assert answers[0]["answer"] == f"{article(first.color)} {first.color} {first.kind}"
    assert answers[0]["source"] == "perception"
    assert "obj_9" in answers[1]["error"] and "answer" not in answers[1]
    assert answers[2]["error"]  # not a question the grammar knows
