"""PalmePlanner: checkpoint loading, valid steps on observations, and the real Gemma 3 270M."""

from __future__ import annotations

import pytest

from embodied_mm.config.schema import PlannerConfig
from embodied_mm.plan_language import parse_step
from embodied_mm.planner.base import PlannerError
from embodied_mm.planner.palme import PalmePlanner


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(PlannerError, match="no PaLM-E checkpoint at .*nowhere"):
        PalmePlanner.from_config(PlannerConfig(name="palme", checkpoint=str(missing)))
    with pytest.raises(PlannerError, match="no PaLM-E checkpoint"):  # a directory, but empty
        PalmePlanner.from_config(PlannerConfig(name="palme", checkpoint=str(tmp_path)))


@pytest.mark.parametrize("inputs", [("objects", "robot"), ("state", "robot")])
def test_planner_from_checkpoint_plans_valid_steps(make_model, make_obs, tmp_path, inputs):
    make_model(inputs=inputs).save(tmp_path)
    cfg = PlannerConfig(name="palme", checkpoint=str(tmp_path), device="cpu")
    planner = PalmePlanner.from_config(cfg)
    assert planner.needs_images == (inputs[0] == "objects")
    planner.reset("put the red block in the blue bowl")
    for seed in range(3):
        obs = make_obs(seed + 2, seed=seed)
        if not planner.needs_images:
            obs.rgb = obs.segmentation = None  # what the executor sends without images
        assert parse_step(planner.next_step(obs, []), obs.object_names)


@pytest.mark.slow
@pytest.mark.sim
def test_shipped_checkpoint_on_the_real_gemma_plans_real_episodes():
    """`planner=palme` with no options: the shipped checkpoint on the embedded Gemma 3 270M
    plans closed-loop sim episodes it was not trained on (seeds from 1000) to success."""
    from embodied_mm.eval.rollout import EpisodeRunner, EpisodeSpec

    planner = PalmePlanner.from_config(PlannerConfig(name="palme"))
    assert planner.model.llm.config.hidden_size == 640  # the real model, not `tiny`
    with EpisodeRunner(planner, max_steps=8) as runner:
        reports = [runner.run(EpisodeSpec(task, 1000 + i)) for task in ("pick_place", "stack")
                   for i in range(2)]
    for report in reports:
        assert all(parse_step(step) for step in report.steps)
    assert sum(r.success for r in reports) >= 3, [(r.instruction, r.steps) for r in reports]
