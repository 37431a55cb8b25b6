"""Fixtures for the reliability tests: the ROS graph of `tests/ros/conftest.py`, reused.

`graph` starts real node processes in a private ROS domain (localhost discovery) and stops them
at the end; it is loaded lazily so the non-ROS tests here run where rclpy is missing.
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest


def _ros_fixtures():
    pytest.importorskip("rclpy")
    path = Path(__file__).resolve().parents[1] / "ros" / "conftest.py"
    spec = importlib.util.spec_from_file_location("ros_graph_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def graph(tmp_path):
    g = _ros_fixtures().Graph(random.randint(20, 99), tmp_path)
    yield g
    g.close()


@pytest.fixture
def sim_arm(graph):
    """Starts the sim node (with `params`) and returns (the `/joint_states` samples as they
    arrive: (stamp s, joint positions), a reliable publisher on the arm trajectory topic)."""

    def start(*params: str):
        from sensor_msgs.msg import JointState
        from trajectory_msgs.msg import JointTrajectory

        from embodied_mm.ros import qos as ros_qos
        from embodied_mm.ros import topics
        from embodied_mm.ros.conversions import from_time, joint_state_from_msg

        graph.start("sim", "sim_node", *params)
        states: list = []
        graph.probe.create_subscription(
            JointState, topics.JOINT_STATES,
            lambda m: states.append((from_time(m.header.stamp), joint_state_from_msg(m)[0])),
            ros_qos.SENSOR_QOS)
        assert graph.spin_until(lambda: states, 60), graph.log("sim")
        arm = graph.probe.create_publisher(JointTrajectory, topics.ARM_TRAJECTORY,
                                           ros_qos.RELIABLE_QOS)
        return states, arm

    return start


def pytest_configure(config):
    config.addinivalue_line("markers", "fuzz: hypothesis fuzzing, bounded in time (CI runs it)")
