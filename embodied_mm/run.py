"""`embodied-mm run`: one sim episode in-process, printed step by step.

Example:
    embodied-mm run task=stack seed=3
    embodied-mm run task=stack planner=script "planner.steps=pick(obj_1); place(obj_2)"

Prints the instruction, the objects, each plan step with its skill's outcome, and the result.
Exit status: 0 when the episode succeeded, 1 when it failed, 2 for bad input.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from embodied_mm.config.schema import Config, ConfigError
from embodied_mm.eval.rollout import EpisodeReport, EpisodeRunner, EpisodeSpec, make_runner
from embodied_mm.executor import StepRecord
from embodied_mm.plan_language import PlanError


def run_and_print(runner: EpisodeRunner, spec: EpisodeSpec, planner: str,
                  echo: Callable[[str], None] = print) -> EpisodeReport:
    """Runs one episode, printing the instruction, objects, every step and the result.

    Raises:
        PlanError: the planner wrote a step that does not parse or names an absent object;
            nothing moved for that step.
    """
    echo(f"task {spec.task} · seed {spec.seed} · planner {planner}")

    def on_start(episode, objects) -> None:
        echo(f"instruction: {spec.instruction or episode.instruction}")
        echo("objects: " + ", ".join(f"{o.name} {o.description}" for o in objects))

    counter = itertools.count(1)

    def on_step(record: StepRecord) -> None:
        detail = f" — {record.reason}" if record.reason else ""
        timing = f"planner {record.planner_latency_ms:.1f} ms"
        if record.skill_s:
            timing = f"{record.skill_s:.1f} s, " + timing
        echo(f"step {next(counter):>2}  {record.text:<22} {record.status}{detail} ({timing})")

    report = runner.run(spec, on_step=on_step, on_start=on_start)
    if report.outcome == "invalid_plan":
        reason = report.skill_outcomes[-1]["reason"]
        raise PlanError(f"{reason}; the robot did not move for this step")
    verdict = "SUCCESS" if report.success else "FAILURE"
    n = len(report.steps)
    echo(f"result: {verdict} (ended with {report.outcome}, {n} step{'s' * (n != 1)}, "
         f"{report.sim_s:.1f} s robot time)")
    return report


def run(cfg: Config, echo: Callable[[str], None] = print) -> EpisodeReport:
    """Runs the episode `cfg` describes (task, seed, instruction, planner) and prints it."""
    if cfg.task.name == "all":
        raise ConfigError("run takes one task family, not task=all (use `embodied-mm eval`)")
    spec = EpisodeSpec(cfg.task.name, cfg.seed, cfg.instruction, cfg.task.n_distractors,
                       cfg.task.template_id, cfg.task.language, cfg.task.absent)
    with make_runner(cfg) as runner:
        return run_and_print(runner, spec, cfg.planner.name, echo)


def main(cfg: Config) -> int:
    return 0 if run(cfg).success else 1
