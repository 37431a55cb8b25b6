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
def test_real_gemma_plans_a_valid_step_in_the_sim():
    """Untrained encoders on the real Gemma 3 270M: the step is valid, not necessarily right."""
    from embodied_mm.model.palme import PalmE, PalmEConfig
    from sim.robot import SimRobot
    from sim.tasks import TASKS
    from sim.world import TabletopWorld

    model = PalmE(PalmEConfig(llm="gemma3-270m", inputs=("objects", "robot")))
    assert model.llm.config.hidden_size == 640
    episode = TASKS["pick_place"].sample(seed=0, n_distractors=2)
    with TabletopWorld() as world, SimRobot(world) as robot:
        world.reset(episode.scene)
        obs = robot.get_observation(images=True)
    planner = PalmePlanner(model)
    planner.reset(episode.instruction)
    step = planner.next_step(obs, [])
    assert parse_step(step, obs.object_names)  # (latency belongs to `embodied-mm bench`)
