"""`stack`: put one named block on top of another."""

from __future__ import annotations

from embodied_mm.scene import held_block, is_on
from embodied_mm.types import SkillCall
from sim.tasks.base import Episode, SceneBuilder, Task, describe, move_into


class Stack(Task):
    name = "stack"
    templates = (
        "stack the {top} on the {bottom}",
        "put the {top} on top of the {bottom}",
        "place the {top} onto the {bottom}",
        "set the {top} on the {bottom}",
        "pick up the {top} and stack it on the {bottom}",
    )
    max_steps = 6

    def sample_scene(self, scene: SceneBuilder, n_distractors: int):
        top = scene.add("block", role="top")
        bottom = scene.add("block", role="bottom")
        scene.add_distractors(n_distractors)
        return {"top": describe(top), "bottom": describe(bottom)}, {"top": "top",
                                                                   "bottom": "bottom"}

    def success(self, episode: Episode, initial, final, steps) -> bool:
        top, bottom = final.object(episode.goal["top"]), final.object(episode.goal["bottom"])
        return held_block(final) is None and is_on(top, bottom)

    def oracle(self, episode: Episode, obs, done) -> SkillCall:
        return move_into(obs, episode.goal["top"], episode.goal["bottom"]) or SkillCall("done")
