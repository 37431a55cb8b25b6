"""`embodied-mm eval eval.vqa=true`: balanced scene questions, accuracy per type, clear errors."""

from __future__ import annotations

import json

import pytest

from embodied_mm.config import ConfigError, load_config
from embodied_mm.eval.evaluate import evaluate
from embodied_mm.eval.standard import commands, evaluations, slug


@pytest.mark.sim
def test_ground_truth_answers_every_question_right_and_the_file_says_so(tmp_path):
    cfg = load_config(["eval.vqa=true", "task=sort_by_color", "eval.episodes=2",
                       "eval.seed=1000", f"eval.out_dir={tmp_path}"])
    info = evaluate(cfg, progress=False)
    assert info["overall"]["accuracy"] == 1.0
    assert info["overall"]["n_questions"] == 2 * 11
    assert len(info["per_type"]) >= 6  # the sampler spreads questions over the types
    written = json.loads((tmp_path / "vqa_info.json").read_text())
    assert written["per_question"][0]["answer"] == written["per_question"][0]["truth"]


def test_a_planner_that_cannot_answer_is_named(tmp_path):
    cfg = load_config(["eval.vqa=true", "planner=script", f"eval.out_dir={tmp_path}"])
    with pytest.raises(ConfigError, match="planner=script"):
        evaluate(cfg, progress=False)


def test_standard_evaluations_have_a_command_each():
    lines = commands(20)
    assert len(lines) == len(evaluations())
    assert any("task.language=heldout task.absent=mixed" in line for line in lines)
    assert any("task.n_distractors=4" in line for line in lines)
    assert slug("held-out, +2 objects") == "held_out_2_objects"
