"""World faults mid-episode (`eval.perturb`): a knocked block, a slipped grasp, a removed block.

Each test checks that the fault really struck the world and that the closed-loop oracle
replanned from the new observation: it succeeds, or answers `cannot()` once an object its task
names is gone. At scale: `embodied-mm eval planner=oracle task=all eval.episodes=7
eval.perturb=mixed` (README, "Reliability").
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from embodied_mm.config import ConfigError, load_config
from embodied_mm.table import TABLE

pytestmark = pytest.mark.sim


def _run(kind: str, task: str, seed: int):
    from embodied_mm.eval.rollout import EpisodeRunner, EpisodeSpec
    from embodied_mm.planner.oracle import OraclePlanner

    seen: list[list[str]] = []  # object names the planner saw at each decision
    planner = OraclePlanner()
    next_step = planner.next_step

    def spy(obs, done):
        seen.append(obs.object_names)
        return next_step(obs, done)

    planner.next_step = spy
    with EpisodeRunner(planner, perturb=kind) as runner:
        report = runner.run(EpisodeSpec(task, seed))
        final = {o.name: o for o in runner.world.object_states()}
    return report, final, seen


def _statuses(report) -> list[str]:
    return [s["status"] for s in report.skill_outcomes]


def test_knocked_block_makes_the_skill_fail_and_the_oracle_replans():
    report, final, _ = _run("knock", "pick_place", 3)
    fault = report.perturbation
    assert fault["applied"] == "knock" and fault["object"] == "obj_1"
    travelled = np.linalg.norm(np.subtract(fault["after"][:2], fault["before"][:2]))
    assert travelled >= 0.08
    assert _statuses(report)[0] == "failed"  # the pick went for where the block was
    assert report.steps[1] == "pick(obj_1)"  # replanned from where it is now
    assert report.success and report.outcome == "done"
    assert np.linalg.norm(final["obj_1"].position[:2] - final["obj_2"].position[:2]) < 0.05


@pytest.mark.parametrize("task, seed", [("pick_place", 0), ("place_at_zone", 1)])
def test_slipped_grasp_is_reported_and_picked_again(task, seed):
    report, _, _ = _run("grasp_fail", task, seed)
    fault = report.perturbation
    assert fault["applied"] == "grasp_fail"
    assert fault["before"][2] > 0.06 and fault["after"][2] < 0.03  # from the hand to the table
    first = report.skill_outcomes[0]
    assert first["status"] == "failed" and "grasp" in first["reason"]
    assert report.steps[1] == report.steps[0]  # the same pick, from the new observation
    assert report.success and report.outcome == "done"


def test_removed_goal_block_ends_in_cannot_and_nothing_guesses():
    report, final, seen = _run("remove", "pick_place", 5)
    fault = report.perturbation
    assert fault["applied"] == "remove" and fault["after"] is None
    gone = fault["object"]
    assert not TABLE.contains(final[gone].position[:2])  # really taken off the table
    assert gone in seen[0] and gone not in seen[-1]  # and the planner saw it vanish
    assert report.steps[-1] == "cannot()" and report.outcome == "cannot"
    assert report.success  # stopping is the right answer once the task became impossible
    assert all(gone not in step for step in report.steps[1:])  # never commanded at a ghost


def test_removed_other_block_does_not_stop_the_task():
    report, _, seen = _run("remove", "spatial_ref", 3)
    fault = report.perturbation
    assert fault["applied"] == "remove" and fault["object"] not in seen[-1]
    assert fault["object"] not in " ".join(report.steps)
    assert report.success and report.outcome == "done"


def test_mixed_eval_reports_faults_per_kind(tmp_path):
    from embodied_mm.eval.evaluate import evaluate

    cfg = load_config(["planner=oracle", "task=stack", "eval.episodes=2", "eval.seed=3",
                       "eval.perturb=mixed", f"eval.out_dir={tmp_path}"])
    info = evaluate(cfg, progress=False)
    written = json.loads((tmp_path / "eval_info.json").read_text())
    assert written["perturb"] == info["perturb"]
    faults = [row["perturbation"] for row in info["per_episode"]]
    assert all(f["kind"] == "mixed" and f["applied"] in ("knock", "grasp_fail", "remove")
               for f in faults)
    per_fault = info["perturb"]["per_fault"]
    assert sum(row["n_episodes"] for row in per_fault.values()) == 2
    assert info["perturb"]["perturbed"] == {"success_rate": 1.0, "n_episodes": 2}
    again = evaluate(cfg, progress=False)  # the fault follows from the seed alone
    assert [r["perturbation"] for r in again["per_episode"]] == faults


def test_bad_perturb_value_is_named():
    with pytest.raises(ConfigError, match="eval.perturb must be one of none, knock"):
        load_config(["eval.perturb=earthquake"])
