"""Running task episodes in the in-process PyBullet world: one episode, or many with a bar.

`EpisodeRunner` owns one world and robot and reuses them across episodes (a world reset is
far cheaper than a new physics client). `sim` is imported lazily so `embodied_mm` stays free
of pybullet at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from embodied_mm.config.schema import Config
from embodied_mm.eval.perturb import PerturbedRobot, judge
from embodied_mm.executor import EpisodeResult, Executor, StepRecord
from embodied_mm.planner.base import Planner


@dataclass(frozen=True)
class EpisodeSpec:
    """Which episode to run: a task family and seed, optionally a custom instruction and a
    distractor count (as an `eval.suite` entry gives them), the language side of its wording
    and an absent-reference change (`Task.sample`)."""

    task: str
    seed: int
    instruction: str | None = None
    n_distractors: int = 0
    template_id: int | None = None
    language: str = "train"
    absent: str = "none"


@dataclass
class EpisodeReport:
    """The per-episode row of `eval_info.json`."""

    task: str
    seed: int
    instruction: str
    success: bool
    outcome: str
    steps: list[str] = field(default_factory=list)
    planner_latency_ms: list[float] = field(default_factory=list)
    skill_outcomes: list[dict] = field(default_factory=list)
    n_objects: int = 0
    sim_s: float = 0.0
    perturbation: dict | None = None  # the injected fault (`eval.perturb`), if any
    feasible: bool = True  # false: `infeasible`, or an instruction naming something absent

    def to_dict(self) -> dict:
        return asdict(self)


class EpisodeRunner:
    """Runs `EpisodeSpec`s with one planner in one PyBullet world.

    Args:
        planner: the planner to evaluate.
        max_steps: planner decisions per episode.
        control_hz: robot control rate.
        gui: show PyBullet's window.
        camera: optional `sim.camera.CameraConfig`.
        perturb: a world fault per episode (`embodied_mm.eval.perturb`), `none` for none.
    """

    def __init__(self, planner: Planner, max_steps: int = 12, control_hz: float = 20.0,
                 gui: bool = False, camera=None, velocity_scale: float = 0.5,
                 perturb: str = "none") -> None:
        from embodied_mm.robots.base import RobotLimits
        from sim.robot import SimRobot
        from sim.world import TabletopWorld

        self.world = TabletopWorld(gui=gui, camera=camera)
        self.robot = SimRobot(self.world, RobotLimits(velocity_scale=velocity_scale),
                              control_hz=control_hz)
        self.robot.connect()
        self.planner = planner
        self.max_steps = max_steps
        self.perturb = perturb

    def run(self, spec: EpisodeSpec,
            on_step: Callable[[StepRecord], None] | None = None,
            on_start: Callable[[Any, list], None] | None = None) -> EpisodeReport:
        """Samples the episode, runs it closed loop and judges it on the world state.

        Args:
            spec: which episode.
            on_step: called with each step's record as it finishes.
            on_start: called with the sampled episode and the scene's objects before the
                first step.
        """
        from embodied_mm.tasks import TASKS

        if spec.task not in TASKS:
            raise KeyError(f"unknown task {spec.task!r}; tasks: {', '.join(TASKS)}")
        episode = TASKS[spec.task].sample(spec.seed, spec.n_distractors, spec.template_id,
                                          spec.language, spec.absent)
        task = TASKS[episode.task]  # `infeasible` when the instruction names something absent
        instruction = spec.instruction or episode.instruction
        self.world.reset(episode.scene)
        if on_start is not None:
            on_start(episode, self.world.object_states())
        initial = self.world.object_states()
        robot = self.robot if self.perturb == "none" else PerturbedRobot(
            self.robot, self.perturb, spec.seed)
        executor = Executor(self.planner, robot, max_steps=self.max_steps, on_step=on_step)
        result: EpisodeResult = executor.run(instruction, context=episode)
        final = self.robot.get_observation(images=False)
        calls = [_parse_or_none(r.text) for r in result.records]
        success = task.success(episode, initial, final, [c for c in calls if c is not None])
        fault = robot.fault if isinstance(robot, PerturbedRobot) else None
        if fault is not None:
            success = judge(fault, episode.goal, success, result.outcome)
        return EpisodeReport(
            task=spec.task, seed=spec.seed, instruction=instruction, success=bool(success),
            outcome=result.outcome, steps=result.steps,
            planner_latency_ms=[round(r.planner_latency_ms, 3) for r in result.records],
            skill_outcomes=[{"step": r.text, "status": r.status, "reason": r.reason}
                            for r in result.records],
            n_objects=len(episode.scene), sim_s=round(self.world.sim_time, 2),
            perturbation=fault.to_dict() if fault is not None else None,
            feasible=episode.task != "infeasible")

    def close(self) -> None:
        self.robot.disconnect()
        self.world.close()

    def __enter__(self) -> EpisodeRunner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _parse_or_none(text: str):
    from embodied_mm.plan_language import PlanError, parse_step

    try:
        return parse_step(text)
    except PlanError:
        return None


def make_runner(cfg: Config) -> EpisodeRunner:
    """An `EpisodeRunner` with the planner, robot and camera settings of `cfg`."""
    from embodied_mm.planner import build_planner
    from sim.camera import CameraConfig

    camera = CameraConfig(width=cfg.robot.camera.width, height=cfg.robot.camera.height)
    return EpisodeRunner(build_planner(cfg.planner), max_steps=cfg.planner.max_steps,
                         control_hz=cfg.robot.control_hz, gui=cfg.gui, camera=camera,
                         velocity_scale=cfg.robot.velocity_scale, perturb=cfg.eval.perturb)
