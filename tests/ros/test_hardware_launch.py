"""`hardware.launch.yaml` against a stand-in for real drivers (`standin_driver.py`): 16UC1
depth in millimetres with holes, FR3 joint names, FR3 controller topics and a 640x480 camera
with another lens, placed elsewhere than the sim's, given to perception through a calibration
file. Through
`embodied-mm launch` the graph perceives the objects where they are, plans, and sends the
stand-in's controllers only trajectories within the joint limits, speeds and workspace box;
the pick and place it plans both succeed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import MarkerArray

from embodied_mm.perception.geometry import look_at
from embodied_mm.robots.base import WORKSPACE_TOLERANCE, RobotLimits
from embodied_mm.robots.kinematics import (
    JOINT_LOWER,
    JOINT_UPPER,
    JOINT_VELOCITY,
    PandaKinematics,
    rotation_to_quaternion,
)
from embodied_mm.ros import qos as ros_qos
from embodied_mm.ros import topics
from embodied_mm.ros.conversions import (
    JointNames,
    from_time,
    joint_state_from_msg,
    objects_from_markers,
    status_from_msg,
)
from embodied_mm.ros.trajectory import ordered_points
from embodied_mm.vocabulary import COLORS, KINDS

pytestmark = [pytest.mark.ros, pytest.mark.sim, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
STANDIN = Path(__file__).with_name("standin_driver.py")
EYE, TARGET = (1.0, 0.35, 0.8), (0.45, 0.0, 0.0)  # the sim's camera: (1.15, 0, 0.75)
# A RealSense D435's colour stream, not the sim camera's 320x240 at 55 degrees.
CAMERA = {"width": 640, "height": 480, "fov_deg": 42.0}
FR3_ARM = [f"fr3_joint{i}" for i in range(1, 8)]
FR3_FINGERS = ["fr3_finger_joint1", "fr3_finger_joint2"]
ARM_TOPIC = "/fr3_arm_controller/joint_trajectory"
GRIPPER_TOPIC = "/fr3_gripper_controller/joint_trajectory"


def _calibration(path: Path) -> Path:
    """The stand-in camera's pose as a calibration file (position + xyzw quaternion)."""
    pose = look_at(EYE, TARGET, (0.0, 0.0, 1.0))
    q = rotation_to_quaternion(pose[:3, :3])
    path.write_text(f"frame: optical\nposition: {list(EYE)}\n"
                    f"orientation: {[float(v) for v in q]}\n")
    return path


def _color_names(truth: list[dict]) -> dict[tuple[str, str], str]:
    """The names colour perception gives a new scene: `obj_1…` in (colour, kind) vocabulary
    order (`embodied_mm.perception.detectors`)."""
    keys = sorted(((o["color"], o["kind"]) for o in truth),
                  key=lambda k: (list(COLORS).index(k[0]), KINDS.index(k[1])))
    return {key: f"obj_{i + 1}" for i, key in enumerate(keys)}


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_hardware_launch_plans_and_commands_a_real_drivers_arm_within_limits(graph, tmp_path):
    truth_path = tmp_path / "truth.json"
    standin = subprocess.Popen(
        [sys.executable, str(STANDIN), "--ros-args", "-p", "task:=pick_place", "-p", "seed:=0",
         "-p", f"eye:={list(EYE)}", "-p", f"target:={list(TARGET)}",
         "-p", f"truth:={truth_path}",
         *(a for key, value in CAMERA.items() for a in ("-p", f"{key}:={value}"))],
        cwd=REPO, env=graph.env, stdout=open(tmp_path / "standin.log", "w"),
        stderr=subprocess.STDOUT, start_new_session=True)
    launch = None
    try:
        deadline = time.monotonic() + 60
        while not truth_path.exists() and time.monotonic() < deadline and standin.poll() is None:
            time.sleep(0.2)
        assert truth_path.exists(), (tmp_path / "standin.log").read_text()
        truth = json.loads(truth_path.read_text())
        names = _color_names(truth)
        block = next(names[(o["color"], o["kind"])] for o in truth if o["kind"] == "block")
        bowl = next(names[(o["color"], o["kind"])] for o in truth if o["kind"] == "bowl")

        arms: list[tuple[float, JointTrajectory]] = []
        grippers: list[JointTrajectory] = []
        states: list[tuple[float, np.ndarray]] = []
        statuses: list[dict] = []
        seen: list[list] = []
        probe = graph.probe
        probe.create_subscription(JointTrajectory, ARM_TOPIC,
                                  lambda m: arms.append((time.monotonic(), m)),
                                  ros_qos.RELIABLE_QOS)
        probe.create_subscription(JointTrajectory, GRIPPER_TOPIC, grippers.append,
                                  ros_qos.RELIABLE_QOS)
        fr3 = JointNames(tuple(FR3_ARM), tuple(FR3_FINGERS))
        probe.create_subscription(
            JointState, topics.JOINT_STATES,
            lambda m: states.append((from_time(m.header.stamp), joint_state_from_msg(m, fr3)[0])),
            ros_qos.SENSOR_QOS)
        probe.create_subscription(DiagnosticStatus, topics.SKILL_STATUS,
                                  lambda m: statuses.append(status_from_msg(m)),
                                  ros_qos.RELIABLE_QOS)
        probe.create_subscription(MarkerArray, topics.OBJECTS,
                                  lambda m: seen.append(objects_from_markers(m)),
                                  ros_qos.RELIABLE_QOS)
        instruction = probe.create_publisher(String, topics.INSTRUCTION, ros_qos.RELIABLE_QOS)

        launch = subprocess.Popen(
            [sys.executable, "-m", "embodied_mm.cli", "launch", "launch/hardware.launch.yaml",
             "planner:=script", f"overrides:=planner.steps=pick({block});place({bowl})",
             f"camera_calibration:={_calibration(tmp_path / 'camera.yaml')}",
             f"arm_joints:=[{', '.join(FR3_ARM)}]", f"finger_joints:=[{', '.join(FR3_FINGERS)}]",
             f"arm_topic:={ARM_TOPIC}", f"gripper_topic:={GRIPPER_TOPIC}",
             f"out_dir:={tmp_path / 'run'}"],
            cwd=REPO, env=graph.env, stdout=open(tmp_path / "launch.log", "w"),
            stderr=subprocess.STDOUT, start_new_session=True)

        def log() -> str:
            return (tmp_path / "launch.log").read_text()[-4000:]

        # Perception, from 16UC1 depth and the calibration file, finds the objects where they are.
        assert graph.spin_until(lambda: seen and len(seen[-1]) == len(truth)
                                and probe.count_subscribers(topics.INSTRUCTION) > 0, 90), (
            seen[-1:], truth, log())
        perceived = {(o.color, o.kind): o for o in seen[-1]}
        for obj in truth:
            found = perceived[(obj["color"], obj["kind"])]
            assert found.name == names[(obj["color"], obj["kind"])]
            assert np.linalg.norm(found.position - obj["position"]) < 0.01, (found, obj)

        graph.spin_for(1.0)  # the planner's inputs are fresh
        instruction.publish(String(data="put the block in the bowl"))

        def executor(status: str) -> list[str]:
            return [s["step"] for s in statuses
                    if s.get("source") == "executor" and s["status"] == status]

        assert graph.spin_until(lambda: "done()" in executor("terminal")
                                or executor("failed") or executor("aborted")
                                or launch.poll() is not None, 120), log()
        assert executor("succeeded") == [f"pick({block})", f"place({bowl})"], (statuses, log())
    finally:
        if launch is not None:
            _stop(launch)
        _stop(standin)
    assert launch.returncode == 0, log()

    # Every trajectory on the driver's controller topics: FR3 names, within the limits.
    assert len(arms) > 20 and grippers, (len(arms), len(grippers))
    limits, kinematics = RobotLimits(), PandaKinematics()
    for _, msg in arms:
        assert list(msg.joint_names) == FR3_ARM
        points, _ = ordered_points(msg, FR3_ARM)
        assert np.all(points >= JOINT_LOWER - 1e-9) and np.all(points <= JOINT_UPPER + 1e-9)
        for q in points:
            tool = kinematics.forward(q)[0]
            assert np.all(tool >= limits.workspace_lower - WORKSPACE_TOLERANCE), tool
            assert np.all(tool <= limits.workspace_upper + WORKSPACE_TOLERANCE), tool
    for msg in grippers:
        assert list(msg.joint_names) == FR3_FINGERS
        points, _ = ordered_points(msg, FR3_FINGERS)
        assert np.all(points >= 0.0) and np.all(points <= limits.gripper_max / 2 + 1e-9)
    # The arm the stand-in moved never went faster than its rated joint speeds (over 50 ms).
    stamps = np.array([t for t, _ in states])
    joints = np.array([q for _, q in states])
    assert len(stamps) > 100
    later = np.searchsorted(stamps, stamps + 0.05)
    ok = later < len(stamps)
    speed = np.abs(joints[later[ok]] - joints[ok]) / (stamps[later[ok]] - stamps[ok])[:, None]
    assert np.all(speed <= JOINT_VELOCITY * 1.15), speed.max(axis=0) / JOINT_VELOCITY
