"""Closed loop: whatever plan steps the executor is given, every joint command the robot
sends stays inside the joint position / velocity limits and the workspace box."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embodied_mm.executor import run_skill
from embodied_mm.plan_language import DIRECTIONS, ZONES
from embodied_mm.robots.kinematics import PandaKinematics
from embodied_mm.tasks import TASKS
from embodied_mm.types import JointAction, SkillCall
from sim.robot import SimRobot

pytestmark = [pytest.mark.sim, pytest.mark.slow]

KIN = PandaKinematics()


class CheckedSimRobot(SimRobot):
    """A `SimRobot` that checks every command it really sends (after clipping)."""

    commands = 0

    def _command(self, action: JointAction) -> None:
        lim, current = self.limits, self.joint_positions()
        joints = action.joint_positions
        assert np.all(joints >= lim.joint_lower - 1e-9) and np.all(joints <= lim.joint_upper + 1e-9)
        max_step = lim.joint_velocity * lim.velocity_scale / self.control_hz
        assert np.all(np.abs(joints - current) <= max_step + 1e-9)
        assert 0.0 <= action.gripper_width <= lim.gripper_max
        tool = KIN.forward(joints)[0]
        now = KIN.forward(current)[0]
        outside = np.linalg.norm(tool - lim.clip_position(tool))
        assert outside <= max(1e-3, np.linalg.norm(now - lim.clip_position(now))) + 1e-9
        CheckedSimRobot.commands += 1
        super()._command(action)


def plan_steps(n_objects: int):
    """Random steps of the plan grammar over a scene's objects (valid syntax, any sense)."""
    obj = st.integers(1, n_objects).map(lambda k: f"obj_{k}")
    return st.one_of(
        st.builds(lambda o: SkillCall("pick", (o,)), obj),
        st.builds(lambda o: SkillCall("place", (o,)), obj),
        st.builds(lambda z: SkillCall("place_at", (z,)), st.sampled_from(ZONES)),
        st.builds(lambda o, d: SkillCall("push", (o, d)), obj, st.sampled_from(DIRECTIONS)))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), data=st.data())
def test_random_plan_steps_never_command_outside_limits(world, seed, data):
    episode = TASKS["sort_by_color"].sample(seed, n_distractors=2)
    world.reset(episode.scene)
    world.reset_robot()
    steps = data.draw(st.lists(plan_steps(len(episode.scene)), min_size=1, max_size=3))
    with CheckedSimRobot(world) as robot:
        for call in steps:
            run_skill(robot, call)  # succeeded or failed: either way, within limits


def test_the_checked_robot_sees_the_skills_commands(world):
    episode = TASKS["pick_place"].sample(0)
    world.reset(episode.scene)
    before = CheckedSimRobot.commands
    with CheckedSimRobot(world) as robot:
        run_skill(robot, SkillCall("pick", (episode.goal["block"],)))
    assert CheckedSimRobot.commands - before > 20  # a pick is many control periods
