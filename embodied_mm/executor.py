"""The episode loop: observe → plan the next step → check it → run its skill → repeat.

`Executor(planner, robot)` composes a planner and the skill library over a `Robot`; it holds no
ROS or simulator code, so the same loop runs in-process and inside the ROS 2 executor node.
Replanning happens after every skill, from a fresh observation (closed loop). Plan text that
does not parse or names an absent object ends the episode before anything moves.

Example:
    >>> executor = Executor(OraclePlanner(), robot)  # doctest: +SKIP
    >>> result = executor.run(episode.instruction, context=episode)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from embodied_mm.plan_language import PlanError, parse_step
from embodied_mm.planner.base import Planner
from embodied_mm.robots.base import Robot
from embodied_mm.skills import SKILLS, Skill, SkillStatus
from embodied_mm.types import SkillCall


@dataclass
class StepRecord:
    """One planner decision and what came of it."""

    text: str  # plan text as the planner wrote it
    status: str  # succeeded | failed | invalid | terminal
    reason: str = ""
    planner_latency_ms: float = 0.0
    skill_s: float = 0.0  # robot time the skill took


@dataclass
class EpisodeResult:
    """What happened in an episode; `outcome` says how it ended."""

    instruction: str
    records: list[StepRecord] = field(default_factory=list)
    outcome: str = ""  # done | cannot | invalid_plan | step_budget

    @property
    def steps(self) -> list[str]:
        return [r.text for r in self.records]


class Executor:
    """Runs episodes: a planner decides, skills act through the robot.

    Args:
        planner: decides each next step.
        robot: the robot the skills command.
        skills: step name -> skill class.
        max_steps: planner decisions per episode before giving up.
        on_step: called with each `StepRecord` as soon as it is known (for live printing).
    """

    def __init__(self, planner: Planner, robot: Robot,
                 skills: Mapping[str, type[Skill]] = SKILLS, max_steps: int = 12,
                 on_step: Callable[[StepRecord], None] | None = None) -> None:
        self.planner, self.robot, self.skills = planner, robot, skills
        self.max_steps = max_steps
        self.on_step = on_step or (lambda record: None)

    def run(self, instruction: str, context: Any = None) -> EpisodeResult:
        """Runs one episode for `instruction` from the robot's current state."""
        self.planner.reset(instruction, context)
        result = EpisodeResult(instruction)
        done: list[SkillCall] = []
        for _ in range(self.max_steps):
            obs = self.robot.get_observation(images=self.planner.needs_images)
            start = time.perf_counter()
            text = self.planner.next_step(obs, done)
            latency_ms = (time.perf_counter() - start) * 1e3
            try:
                call = parse_step(text, obs.object_names)
            except PlanError as err:
                result.outcome = "invalid_plan"
                self._record(result, StepRecord(text, "invalid", str(err), latency_ms))
                return result
            if call.is_terminal:
                result.outcome = call.name
                self._record(result, StepRecord(text, "terminal", "", latency_ms))
                return result
            status, reason, skill_s = self.run_skill(call)
            self._record(result, StepRecord(text, status.value, reason, latency_ms, skill_s))
            if status is SkillStatus.SUCCEEDED:
                done.append(call)
        result.outcome = "step_budget"
        return result

    def run_skill(self, call: SkillCall) -> tuple[SkillStatus, str, float]:
        return run_skill(self.robot, call, self.skills)

    def _record(self, result: EpisodeResult, record: StepRecord) -> None:
        result.records.append(record)
        self.on_step(record)


def run_skill(robot: Robot, call: SkillCall,
              skills: Mapping[str, type[Skill]] = SKILLS) -> tuple[SkillStatus, str, float]:
    """Runs one skill to its end at the robot's control rate.

    Returns:
        The final status, the failure reason ("" on success) and the robot time it took (s).
    """
    skill = skills[call.name](control_hz=robot.control_hz)
    obs = robot.get_observation(images=False)
    start = obs.stamp
    skill.reset(obs, call)
    while skill.status is SkillStatus.RUNNING:
        robot.send_action(skill.step(obs))
        obs = robot.get_observation(images=False)
    return skill.status, skill.reason, obs.stamp - start
