"""The scripted planner: replays plan text given by the user, then says `done()`.

For trying skills by hand and for tests of the executor's input checks; the text is not
checked here, so a typo reaches the executor's parser exactly as a learned planner's would.

Example:
    embodied-mm run task=stack planner=script "planner.steps=pick(obj_1); place(obj_2)"
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from embodied_mm.config.schema import PlannerConfig
from embodied_mm.planner.base import Planner
from embodied_mm.types import Observation, SkillCall


class ScriptedPlanner(Planner):
    """Returns `steps[0]`, `steps[1]`, … on successive decisions, then `done()`."""

    def __init__(self, steps: str | Sequence[str] = ()) -> None:
        if isinstance(steps, str):
            steps = [s.strip() for s in steps.split(";") if s.strip()]
        self.steps = list(steps)

    @classmethod
    def from_config(cls, cfg: PlannerConfig) -> ScriptedPlanner:
        return cls(cfg.steps)

    def reset(self, instruction: str, context: Any = None) -> None:
        super().reset(instruction, context)
        self._next = 0

    def next_step(self, obs: Observation, done: Sequence[SkillCall]) -> str:
        if self._next >= len(self.steps):
            return "done()"
        self._next += 1
        return self.steps[self._next - 1]
