"""`Jog`: twists become tool targets within the jog limits, stop on a stale twist, refuse NaN,
and the robot's own clipping still applies to what they produce."""

from __future__ import annotations

import numpy as np
import pytest

from embodied_mm.robots.kinematics import HOME, PandaKinematics
from embodied_mm.teleop.jog import GRIPPER_CLOSED, Jog, JogLimits


def test_moves_along_the_twist_at_most_at_the_jog_speed():
    jog, kin = Jog(JogLimits(max_linear=0.1)), PandaKinematics()
    start, _ = kin.forward(HOME)
    jog.command([5.0, 0.0, 0.0], 0.0, now=0.0)  # far too fast: scaled to 0.1 m/s
    jog.step(HOME, 0.08, now=0.0)
    action = jog.step(HOME, 0.08, now=0.05)
    step = action.position - start
    assert step[0] == pytest.approx(0.1 * 0.05, abs=1e-9)
    assert abs(step[1]) < 1e-9 and abs(step[2]) < 1e-9


def test_a_stale_twist_stops_the_motion():
    jog = Jog(JogLimits(timeout_s=0.3))
    jog.command([0.1, 0.0, 0.0], 0.0, now=0.0)
    assert jog.step(HOME, 0.08, now=0.1) is not None
    assert jog.step(HOME, 0.08, now=0.5) is None  # the device went quiet: dead-man


@pytest.mark.parametrize("linear, yaw", [([np.nan, 0, 0], 0.0), ([0, 0, 0], np.inf),
                                         ([0.1, 0.0], 0.0)])
def test_bad_twists_are_refused_with_a_reason(linear, yaw):
    with pytest.raises(ValueError, match="finite"):
        Jog().command(linear, yaw, now=0.0)


def test_gripper_command_holds_the_pose_and_closes():
    jog, kin = Jog(), PandaKinematics()
    jog.gripper(True, now=0.0)
    action = jog.step(HOME, 0.08, now=0.1)
    assert action.gripper_width == GRIPPER_CLOSED
    assert np.allclose(action.position, kin.forward(HOME)[0])


@pytest.mark.sim
def test_jogging_down_into_the_table_stops_at_the_workspace_floor(robot):
    """Seconds of "down" through a real (sim) robot: the tool never leaves the workspace box,
    every joint command stays within the robot's limits."""
    jog, kin = Jog(JogLimits(max_linear=0.15)), PandaKinematics()
    floor = robot.limits.workspace_lower[2]
    lowest = np.inf
    for i in range(120):  # 6 s at 20 Hz, 0.9 m of commanded descent
        jog.command([0.0, 0.0, -0.15], 0.0, now=i * 0.05)
        obs = robot.get_observation(images=False)
        action = jog.step(obs.joint_positions, obs.gripper_width, now=i * 0.05)
        sent = robot.send_action(action)
        assert np.all(sent.joint_positions <= robot.limits.joint_upper + 1e-9)
        assert np.all(sent.joint_positions >= robot.limits.joint_lower - 1e-9)
        lowest = min(lowest, kin.forward(sent.joint_positions)[0][2])
    assert floor - 2e-3 <= lowest < floor + 0.03  # it got down to the floor, not through it
