"""E-stop timing on the sim node: motion stops within 100 ms of `/embodied_mm/estop` true.

`tests/ros/test_sim_node.py` checks that the stop latches until released; this test times it.
The sim stamps `/joint_states` with the clock it steps physics to, so the stamps measure the
stop in sim time (DDS delivery included).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from std_msgs.msg import Bool

from embodied_mm.ros import qos as ros_qos
from embodied_mm.ros import topics
from embodied_mm.ros.conversions import trajectory_msg

pytestmark = [pytest.mark.ros, pytest.mark.sim]

STOP_WITHIN_S = 0.1


def test_estop_stops_a_fast_motion_within_100_ms(graph, sim_arm):
    states, arm = sim_arm()
    estop = graph.probe.create_publisher(Bool, topics.ESTOP, ros_qos.LATCHED_QOS)
    graph.spin_for(1.0)
    start = states[-1][1]
    goal = start.copy()
    goal[0] -= 1.0  # joint 1 at about 1 rad/s: the executor's top speed
    arm.publish(trajectory_msg(list(topics.ARM_JOINTS), [goal], [1.0]))
    graph.spin_for(0.5)
    moving = [q for t, q in states[-10:]]
    assert abs(moving[-1][0] - moving[0][0]) > 0.02, "the arm should be moving before the stop"
    pressed = time.time()
    estop.publish(Bool(data=True))
    graph.spin_for(1.5)
    after = [(t, q) for t, q in states if t >= pressed + STOP_WITHIN_S]
    assert len(after) >= 3
    drift = np.abs(np.asarray([q for _, q in after]) - after[0][1]).max()
    assert drift < 0.005, f"moved {drift:.4f} rad after {STOP_WITHIN_S * 1e3:.0f} ms"
    assert abs(after[-1][1][0] - goal[0]) > 0.2  # it stopped short of the goal
