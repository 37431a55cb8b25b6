"""`Robot.send_action` never sends a command outside the declared limits, whatever it is asked."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embodied_mm.robots.kinematics import PandaKinematics
from embodied_mm.types import EndEffectorAction, JointAction

pytestmark = pytest.mark.sim


def _violation(robot, joints: np.ndarray) -> float:
    pos, _ = PandaKinematics().forward(joints)
    return float(np.linalg.norm(pos - robot.limits.clip_position(pos)))


def _inside(robot, sent: JointAction, before: np.ndarray) -> None:
    """Every limit holds; a tool already outside the box (pushed there) is never sent further
    out."""
    lim = robot.limits
    assert np.all(sent.joint_positions >= lim.joint_lower - 1e-9)
    assert np.all(sent.joint_positions <= lim.joint_upper + 1e-9)
    max_step = lim.joint_velocity * lim.velocity_scale / robot.control_hz
    assert np.all(np.abs(sent.joint_positions - before) <= max_step + 1e-9)
    assert 0.0 <= sent.gripper_width <= lim.gripper_max
    violation = _violation(robot, sent.joint_positions)
    assert violation <= max(1e-3, _violation(robot, before)) + 1e-9


def test_joint_command_leaving_the_box_is_shortened(robot):
    """A joint target whose tool pose is far outside the box: the arm moves only to its edge."""
    kin = PandaKinematics()
    far = kin.inverse(np.array([0.5, 0.0, 0.75]), 0.0, seed=kin.home)  # above the box top
    for _ in range(80):
        before = robot.joint_positions()
        sent = robot.send_action(JointAction(far, 0.08))
        _inside(robot, sent, before)
    top = kin.forward(robot.joint_positions())[0][2]
    assert robot.limits.workspace_upper[2] - 0.03 < top <= robot.limits.workspace_upper[2] + 0.01


def test_end_effector_target_below_table_is_clipped(robot):
    for _ in range(40):
        before = robot.joint_positions()
        sent = robot.send_action(EndEffectorAction(np.array([0.5, 0.0, -0.3]), 0.0, 0.08))
        _inside(robot, sent, before)
    tool_z = robot.get_observation(images=False).ee_pose[2]
    assert tool_z >= robot.limits.workspace_lower[2] - 0.01


def test_joint_target_beyond_limits_is_clipped_and_rate_limited(robot):
    before = robot.joint_positions()
    sent = robot.send_action(JointAction(np.full(7, 10.0), gripper_width=0.5))
    _inside(robot, sent, before)
    assert sent.gripper_width == robot.limits.gripper_max


@pytest.mark.parametrize("bad", [np.full(7, np.nan), np.zeros(6)])
def test_malformed_joint_targets_are_refused_without_motion(robot, bad):
    before = robot.joint_positions()
    with pytest.raises(ValueError):
        robot.send_action(JointAction(bad, 0.04))
    np.testing.assert_array_equal(robot.joint_positions(), before)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.floats(-2, 2), st.floats(-2, 2), st.floats(-1, 2),
                          st.floats(-4, 4), st.floats(-1, 1)), min_size=1, max_size=6))
def test_random_cartesian_commands_stay_inside_limits(world, robot, targets):
    world.reset_robot()  # each example starts from home
    for x, y, z, yaw, grip in targets:
        before = robot.joint_positions()
        sent = robot.send_action(EndEffectorAction(np.array([x, y, z]), yaw, grip))
        _inside(robot, sent, before)
