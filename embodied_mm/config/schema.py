"""Typed configuration: one dataclass per Hydra config group, validated on construction.

Configs are composed from YAML by Hydra and converted into these dataclasses once, at the
entry point; code below the CLI only ever sees typed fields. Each `__post_init__` names the
bad key and value.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ConfigError(ValueError):
    """A configuration value or key is wrong; the message names it."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass
class TaskConfig:
    """Which task family to sample episodes from (`all` = every family)."""

    name: str = "pick_place"
    n_distractors: int = 0  # extra objects not named in the goal: scenes can outgrow training
    template_id: int | None = None  # fix the instruction template (held-out template evals)

    def __post_init__(self) -> None:
        _require(self.n_distractors >= 0,
                 f"task.n_distractors must be >= 0, got {self.n_distractors}")


@dataclass
class PlannerConfig:
    """Which planner decides the steps."""

    name: str = "oracle"
    max_steps: int = 12  # decisions per episode before it counts as failed
    steps: str = ""  # plan text for the `script` planner: "pick(obj_1); place(obj_2)"
    # Learned planners (palme, text_llm):
    checkpoint: str = "checkpoints/palme-gemma270m"  # trained parts + config + model card
    llm: str | None = None  # override the checkpoint's LLM (checked against the checkpoint)
    device: str = "cpu"
    dtype: str | None = None  # e.g. bfloat16; None keeps the checkpoint's

    def __post_init__(self) -> None:
        _require(self.max_steps >= 1, f"planner.max_steps must be >= 1, got {self.max_steps}")


@dataclass
class EvalConfig:
    """How many episodes to evaluate and where to write the results."""

    episodes: int = 20
    seed: int = 0
    out_dir: str = "outputs/eval"
    suite: str | None = None
    workers: int = 1

    def __post_init__(self) -> None:
        _require(self.episodes >= 1, f"eval.episodes must be >= 1, got {self.episodes}")
        _require(self.workers >= 1, f"eval.workers must be >= 1, got {self.workers}")


@dataclass
class CameraSettings:
    width: int = 320
    height: int = 240

    def __post_init__(self) -> None:
        _require(self.width > 0 and self.height > 0,
                 f"robot.camera size must be positive, got {self.width}x{self.height}")


@dataclass
class RobotConfig:
    """Robot control settings; the limits themselves live in `RobotLimits`."""

    control_hz: float = 20.0
    velocity_scale: float = 0.5
    camera: CameraSettings = field(default_factory=CameraSettings)

    def __post_init__(self) -> None:
        _require(self.control_hz > 0 and 240 % self.control_hz == 0,
                 f"robot.control_hz must divide 240, got {self.control_hz}")
        _require(0 < self.velocity_scale <= 1,
                 f"robot.velocity_scale must be in (0, 1], got {self.velocity_scale}")


@dataclass
class DemoConfig:
    """`embodied-mm demo`: the ROS 2 graph (default) or the in-process loop."""

    graph: bool = True  # false: no ROS, one in-process episode per task family
    episodes: int = 3  # graph demo: one instruction from each of this many task families

    def __post_init__(self) -> None:
        _require(self.episodes >= 1, f"demo.episodes must be >= 1, got {self.episodes}")


@dataclass
class Config:
    """The root config every `embodied-mm` command receives."""

    task: TaskConfig = field(default_factory=TaskConfig)
    planner: PlannerConfig = field(default_factory=PlannerConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    robot: RobotConfig = field(default_factory=RobotConfig)
    demo: DemoConfig = field(default_factory=DemoConfig)
    seed: int = 0
    instruction: str | None = None
    gui: bool = False

    def __post_init__(self) -> None:
        _require(self.instruction is None or bool(self.instruction.strip()),
                 "instruction is empty; give one with instruction=\"put the red block in the "
                 "blue bowl\" or leave it out")
