"""`embodied-mm eval`: eval_info.json in the documented format, suites, parallel workers."""

from __future__ import annotations

import json

import pytest

from embodied_mm.config import ConfigError, load_config
from embodied_mm.eval.evaluate import evaluate
from embodied_mm.eval.suite import load_suite
from embodied_mm.tasks import TASKS

pytestmark = pytest.mark.sim


def test_eval_writes_documented_format(tmp_path):
    cfg = load_config(["task=all", "eval.episodes=1", "eval.seed=40", f"eval.out_dir={tmp_path}"])
    info = evaluate(cfg, progress=False)
    on_disk = json.loads((tmp_path / "eval_info.json").read_text())
    assert on_disk == info
    assert set(info) >= {"planner", "model", "overall", "per_task", "per_episode", "eval_s"}
    assert info["overall"]["n_episodes"] == len(TASKS)
    assert set(info["per_task"]) == set(TASKS)
    assert info["overall"]["success_rate"] == 1.0  # the oracle, through real physics
    row = info["per_episode"][0]
    assert {"task", "seed", "instruction", "success", "steps", "planner_latency_ms"} <= set(row)
    assert len(row["steps"]) == len(row["planner_latency_ms"])
    assert (tmp_path / "report.html").is_file()


def test_suite_sets_instruction_and_distractors_per_episode(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text("- {task: stack, seed: 2, n_distractors: 3}\n"
                     "- {task: infeasible, seed: 5}\n")
    cfg = load_config([f"eval.suite={suite}", f"eval.out_dir={tmp_path / 'out'}"])
    info = evaluate(cfg, progress=False)
    rows = info["per_episode"]
    assert [(r["task"], r["seed"]) for r in rows] == [("stack", 2), ("infeasible", 5)]
    assert rows[0]["n_objects"] == len(TASKS["stack"].sample(2).scene) + 3
    assert all(r["success"] for r in rows)


@pytest.mark.parametrize("text, message", [
    ("- {task: stack}\n", "seed must be an integer"),
    ("- {task: fly, seed: 1}\n", "unknown task 'fly'"),
    ("- {task: stack, seed: 1, colour: red}\n", "unknown key(s) colour"),
    ("[", "not valid YAML"),
    ("{}", "non-empty list"),
])
def test_bad_suite_files_name_the_problem(tmp_path, text, message):
    suite = tmp_path / "suite.yaml"
    suite.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_suite(suite, TASKS)


@pytest.mark.slow
def test_two_workers_give_the_same_results(tmp_path):
    args = ["task=pick_place", "eval.episodes=4", "eval.seed=60"]
    one = evaluate(load_config(args + [f"eval.out_dir={tmp_path / 'a'}"]), progress=False)
    two = evaluate(load_config(args + ["eval.workers=2", f"eval.out_dir={tmp_path / 'b'}"]),
                   progress=False)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "planner_latency_ms"} for r in rows]
    assert strip(one["per_episode"]) == strip(two["per_episode"])
