"""The `text_llm` baseline: the scene as text in a few-shot prompt, constrained decoding."""

from __future__ import annotations

import numpy as np

from embodied_mm.config.schema import PlannerConfig
from embodied_mm.plan_language import parse_step
from embodied_mm.planner import build_planner
from embodied_mm.planner.text_llm import (
    FEW_SHOT,
    TextLLMPlanner,
    describe_object,
    text_prompt,
)
from embodied_mm.types import ObjectState


def test_objects_are_described_in_table_words():
    obj = ObjectState("obj_2", "bowl", "blue", np.array([0.65, 0.25, 0.03]),
                      np.array([0, 0, 0, 1.0]), np.full(3, 0.1))
    assert describe_object(obj) == ("obj_2 is a blue bowl at the back_left of the table "
                                    "(x 15 cm, y 25 cm).")


def test_prompt_ends_with_this_decision(make_obs):
    obs = make_obs(3, seed=0)
    prompt = text_prompt(obs.objects, "stack the blocks.", ["pick(obj_1)"])
    assert prompt.endswith("Task: stack the blocks. Done: pick(obj_1). Next:")
    assert all(describe_object(o) in prompt for o in obs.objects)
    assert FEW_SHOT.endswith("Next: done()\n")  # the decision continues the examples


def test_planner_decodes_only_valid_steps(make_obs):
    planner = build_planner(PlannerConfig(name="text_llm", llm="tiny"))
    assert isinstance(planner, TextLLMPlanner) and not planner.needs_images
    planner.reset("put the red block in the blue bowl")
    for seed in range(4):
        obs = make_obs(seed + 2, seed=seed)
        assert parse_step(planner.next_step(obs, []), obs.object_names)


def test_reusing_the_few_shot_cache_changes_no_answer(make_obs):
    import torch

    planner = TextLLMPlanner("tiny")
    model, decoder = planner.model, planner.decoder
    for seed in range(3):
        obs = make_obs(seed + 2, seed=seed)
        suffix = model.prompt_embeds(text_prompt(obs.objects, "stack them", []), bos=False)
        whole = torch.cat([model.prompt_embeds(FEW_SHOT), suffix], dim=1)
        cached = decoder.decode(suffix, obs.object_names, model.prefix_cache(FEW_SHOT))
        assert cached == decoder.decode(whole, obs.object_names)
        after_prefix = model.hidden_states(suffix, cache=model.prefix_cache(FEW_SHOT))[0]
        torch.testing.assert_close(after_prefix[0, -1], model.hidden_states(whole)[0][0, -1],
                                   rtol=1e-4, atol=1e-4)
