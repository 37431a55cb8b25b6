"""The planner interface: given an observation and the steps done so far, say the next step.

Planners return plan *text*; the executor parses and validates it against the scene, so a
planner that writes nonsense can never move the robot.
"""

from __future__ import annotations

import abc
import unicodedata
from collections.abc import Sequence
from typing import Any

from embodied_mm.config.schema import PlannerConfig
from embodied_mm.types import Observation, SkillCall

MAX_INSTRUCTION_CHARS = 1000  # longer text is refused: prompts stay bounded


class PlannerError(RuntimeError):
    """A planner cannot plan for this instruction or setting (e.g. the oracle without a task)."""


class Planner(abc.ABC):
    """Decides the next plan step, closed loop: it is asked again after every skill."""

    #: whether `next_step` reads camera images (otherwise they are not rendered).
    needs_images: bool = False

    @classmethod
    def from_config(cls, cfg: PlannerConfig) -> Planner:
        """Builds the planner from its config group (`configs/planner/<name>.yaml`)."""
        return cls()

    def reset(self, instruction: str, context: Any = None) -> None:
        """Starts a new episode.

        Args:
            instruction: the operator's instruction.
            context: privileged episode information (the sampled task instance); only the
                oracle uses it.
        """
        if not instruction.strip():
            raise PlannerError("the instruction is empty")
        if len(instruction) > MAX_INSTRUCTION_CHARS:
            raise PlannerError(f"the instruction is {len(instruction):,} characters long; the "
                               f"limit is {MAX_INSTRUCTION_CHARS:,}")
        # Control characters (terminal escapes, NUL, …) have no place in an instruction and
        # could rewrite an operator's terminal or log; any other Unicode text is fine.
        control = next((c for c in instruction
                        if unicodedata.category(c) in ("Cc", "Cs") and c not in "\t\n"), None)
        if control is not None:
            raise PlannerError(f"the instruction contains the unprintable character "
                               f"U+{ord(control):04X}; send plain text")
        self.instruction = instruction

    @abc.abstractmethod
    def next_step(self, obs: Observation, done: Sequence[SkillCall]) -> str:
        """Returns the next step as plan text, e.g. `pick(obj_2)`.

        Args:
            obs: the current observation (objects named `obj_1 … obj_N`).
            done: steps that succeeded so far in this episode.
        """
