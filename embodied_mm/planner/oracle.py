"""The oracle planner: the task family's scripted expert, closed loop on ground truth.

It needs the sampled episode (privileged information), so it plans the task's own instructions
only; it is the upper bound and the source of training data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from embodied_mm.planner.base import Planner, PlannerError
from embodied_mm.types import Observation, SkillCall


class OraclePlanner(Planner):
    """Plans with `TASKS[episode.task].oracle`."""

    def reset(self, instruction: str, context: Any = None) -> None:
        super().reset(instruction, context)
        if context is None or not hasattr(context, "task"):
            raise PlannerError("the oracle planner needs a sampled task episode; "
                               "use planner=palme for free-form instructions")
        if instruction != context.instruction:
            raise PlannerError("the oracle plans only its task's own instruction, not "
                               f"{instruction!r}; use another planner for custom instructions")
        from embodied_mm.tasks import TASKS  # embodied_mm.tasks is pure Python (no pybullet)

        self._task, self._episode = TASKS[context.task], context

    def next_step(self, obs: Observation, done: Sequence[SkillCall]) -> str:
        if not goal_objects(self._episode.goal) <= set(obs.object_names):
            return "cannot()"  # an object the task needs has vanished: stop, do not guess
        return str(self._task.oracle(self._episode, obs, done))


def goal_objects(goal: dict[str, Any]) -> set[str]:
    """Object names an episode's goal refers to (`obj_k` values, also inside lists)."""
    values = [v for value in goal.values()
              for v in (value if isinstance(value, list | tuple) else [value])]
    return {v for v in values if isinstance(v, str) and re.fullmatch(r"obj_\d+", v)}
