"""`tower`: stack 3–4 named blocks in a given order, bottom first."""

from __future__ import annotations

from embodied_mm.scene import held_block, is_on
from embodied_mm.tasks.base import Episode, SceneBuilder, Task, move_into, ref
from embodied_mm.types import SkillCall


class Tower(Task):
    name = "tower"
    templates = (
        "build a tower of the {listing} blocks, bottom to top",
        "stack the {listing} blocks into a tower in that order from the bottom",
        "make a tower with the {first} block at the bottom, then {rest_then}",
        "stack {listing} blocks with {first} at the bottom and {last} on top",
        "put the blocks in a tower: {listing}, starting from the bottom",
    )
    max_steps = 10

    def sample_scene(self, scene: SceneBuilder, n_distractors: int):
        height = int(scene.rng.integers(3, 5))
        specs = [scene.add("block", role=f"level_{i}") for i in range(height)]
        scene.add_distractors(n_distractors)
        return ({"frame": "tower", "levels": [ref(s) for s in specs]},
                {"order": [f"level_{i}" for i in range(height)]})

    def template_words(self, words):
        colors = [level["color"] for level in words["levels"]]
        return {"listing": ", ".join(colors[:-1]) + " and " + colors[-1], "first": colors[0],
                "last": colors[-1], "rest_then": ", then ".join(colors[1:])}

    def success(self, episode: Episode, initial, final, steps) -> bool:
        order = episode.goal["order"]
        return held_block(final) is None and all(
            is_on(final.object(upper), final.object(lower))
            for lower, upper in zip(order, order[1:]))

    def oracle(self, episode: Episode, obs, done) -> SkillCall:
        order = episode.goal["order"]
        for lower, upper in zip(order, order[1:]):
            step = move_into(obs, upper, lower)
            if step is not None:
                return step
        return SkillCall("done")
