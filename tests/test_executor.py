"""The episode loop: invalid plan text never moves the robot; budgets and outcomes are kept."""

from __future__ import annotations

import numpy as np
import pytest

from embodied_mm.executor import Executor
from embodied_mm.planner.base import PlannerError
from embodied_mm.planner.scripted import ScriptedPlanner
from embodied_mm.tasks.specs import ObjectSpec

pytestmark = pytest.mark.sim

SCENE = [ObjectSpec("block", "red", (0.5, 0.1)), ObjectSpec("bowl", "blue", (0.5, -0.15))]


def _snapshot(world, robot):
    return robot.joint_positions(), [o.position.copy() for o in world.object_states()]


@pytest.mark.parametrize("bad", ["pick(obj_7)", "grab(obj_1)", "pick obj_1", "place_at(moon)"])
def test_invalid_plan_text_ends_episode_without_motion(world, robot, bad):
    world.reset(SCENE)
    joints, objects = _snapshot(world, robot)
    result = Executor(ScriptedPlanner([bad]), robot).run("put the red block in the blue bowl")
    assert result.outcome == "invalid_plan"
    assert result.records[-1].status == "invalid" and result.records[-1].reason
    joints_after, objects_after = _snapshot(world, robot)
    np.testing.assert_allclose(joints_after, joints, atol=1e-6)
    for before, after in zip(objects, objects_after):
        np.testing.assert_allclose(after, before, atol=1e-6)


def test_scripted_plan_runs_to_done_and_keeps_only_successes_as_done(world, robot):
    world.reset(SCENE)
    seen_done = []

    class Recording(ScriptedPlanner):
        def next_step(self, obs, done):
            seen_done.append([str(c) for c in done])
            return super().next_step(obs, done)

    planner = Recording(["pick(obj_2)", "pick(obj_1)", "place(obj_2)"])
    result = Executor(planner, robot).run("put the red block in the blue bowl")
    assert result.outcome == "done"
    assert [r.status for r in result.records] == ["failed", "succeeded", "succeeded", "terminal"]
    assert seen_done[-1] == ["pick(obj_1)", "place(obj_2)"]  # the failed pick is not "done"


def test_step_budget_ends_a_planner_that_never_finishes(world, robot):
    world.reset(SCENE)
    result = Executor(ScriptedPlanner(["place(obj_2)"] * 5), robot, max_steps=3).run("x")
    assert result.outcome == "step_budget" and len(result.records) == 3


def test_empty_instruction_is_refused(world, robot):
    with pytest.raises(PlannerError, match="empty"):
        Executor(ScriptedPlanner(), robot).run("   ")
