"""The safety filter in front of a real arm's controllers: too fast is slowed down, outside the
workspace is refused, joint limits are clipped, and the e-stop holds the arm and latches until
the console or the executor releases it."""

from __future__ import annotations

import numpy as np
import pytest
import rclpy
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool
from trajectory_msgs.msg import JointTrajectory

from embodied_mm.robots.base import RobotLimits
from embodied_mm.robots.kinematics import HOME, JOINT_UPPER
from embodied_mm.ros import qos as ros_qos
from embodied_mm.ros import topics
from embodied_mm.ros.conversions import joint_state_msg, trajectory_msg
from embodied_mm.ros.safety import SafetyGate, UnsafeTrajectory
from embodied_mm.ros.safety_filter_node import SAFE_ARM
from embodied_mm.ros.trajectory import ordered_points

LIMITS = RobotLimits()
MAX_SPEED = LIMITS.joint_velocity * LIMITS.velocity_scale


def test_a_too_fast_trajectory_is_slowed_to_the_limits():
    gate = SafetyGate()
    goal = HOME + np.array([0.3, 0.1, 0.0, 0.1, 0.0, 0.0, 0.6])  # tool stays in the box
    points, times = gate.check_trajectory(np.array([goal, HOME]), np.array([0.001, 0.002]), HOME)
    assert times[0] == pytest.approx(np.max(0.6 / MAX_SPEED[6]), rel=1e-6)
    segments = np.abs(np.diff(np.vstack([HOME, points]), axis=0)) / np.diff([0, *times])[:, None]
    assert np.all(segments <= MAX_SPEED + 1e-9)
    slow, slow_times = gate.check_trajectory(np.array([goal]), np.array([5.0]), HOME)
    assert slow_times[0] == 5.0  # a slow enough trajectory keeps its timing


def test_outside_the_workspace_is_refused_and_joint_limits_clipped():
    gate = SafetyGate()
    down = HOME.copy()
    down[1], down[3] = 1.7, -0.3  # reaching far forward and down: below the table
    with pytest.raises(UnsafeTrajectory, match="point 1: tool at .* outside the workspace"):
        gate.check_trajectory(np.array([HOME, down]), np.array([1.0, 2.0]), HOME)
    beyond = HOME.copy()
    beyond[6] = 9.0
    points, _ = gate.check_trajectory(np.array([beyond]), np.array([10.0]), HOME)
    assert points[0][6] == JOINT_UPPER[6]


@pytest.mark.ros
def test_the_filter_node_forwards_only_safe_trajectories_and_latches_the_estop(graph):
    graph.start("filter", "safety_filter_node")
    probe = graph.probe
    out: list[JointTrajectory] = []
    probe.create_subscription(JointTrajectory, topics.ARM_TRAJECTORY, out.append,
                              ros_qos.RELIABLE_QOS)
    joints = probe.create_publisher(JointState, topics.JOINT_STATES, ros_qos.SENSOR_QOS)
    arm = probe.create_publisher(JointTrajectory, SAFE_ARM, ros_qos.RELIABLE_QOS)
    estop = probe.create_publisher(Bool, topics.ESTOP, ros_qos.LATCHED_QOS)
    assert graph.spin_until(lambda: arm.get_subscription_count() > 0, 30), graph.log("filter")

    def send(points, times) -> list[JointTrajectory]:
        before = len(out)
        for _ in range(20):  # the filter needs a joint state first (sensor QoS: best effort)
            joints.publish(joint_state_msg(HOME, 0.08, 0.0))
            graph.spin_for(0.05)
        arm.publish(trajectory_msg(list(topics.ARM_JOINTS), points, times))
        graph.spin_for(1.0)
        return out[before:]

    goal = HOME + 0.2
    forwarded = send([goal], [0.001])
    assert len(forwarded) == 1
    positions, times = ordered_points(forwarded[0], topics.ARM_JOINTS)
    assert np.all(np.abs(positions[0] - HOME) / times[0] <= MAX_SPEED + 1e-6)
    down = HOME.copy()
    down[1], down[3] = 1.7, -0.3
    assert send([down], [3.0]) == []
    assert "outside the workspace" in graph.log("filter")

    estop.publish(Bool(data=True))  # anyone may stop the arm: a hold goes out at once
    assert graph.spin_until(lambda: len(out) == 2, 5)
    hold, _ = ordered_points(out[-1], topics.ARM_JOINTS)
    np.testing.assert_allclose(hold[0], HOME, atol=1e-6)
    assert send([goal], [3.0]) == []  # nothing forwarded while stopped
    estop.publish(Bool(data=False))  # the probe may not release it
    assert graph.spin_until(lambda: "release from probe refused" in graph.log("filter"), 5)
    assert send([goal], [3.0]) == []
    executor = rclpy.create_node("executor", context=graph.context)
    graph.executor.add_node(executor)
    executor.create_publisher(Bool, topics.ESTOP, ros_qos.LATCHED_QOS).publish(Bool(data=False))
    assert graph.spin_until(lambda: "e-stop released" in graph.log("filter"), 5)
    assert len(send([goal], [3.0])) == 1
