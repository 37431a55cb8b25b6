"""`pick_place`: put a named block into a named bowl."""

from __future__ import annotations

from embodied_mm.scene import held_block, is_on
from embodied_mm.types import SkillCall
from sim.tasks.base import Episode, SceneBuilder, Task, describe, move_into


class PickPlace(Task):
    name = "pick_place"
    templates = (
        "put the {block} in the {bowl}",
        "place the {block} into the {bowl}",
        "pick up the {block} and put it in the {bowl}",
        "move the {block} to the {bowl}",
        "drop the {block} into the {bowl}",
        "the {block} goes in the {bowl}",
    )
    max_steps = 6

    def sample_scene(self, scene: SceneBuilder, n_distractors: int):
        block = scene.add("block", role="block")
        bowl = scene.add("bowl", role="bowl")
        scene.add_distractors(n_distractors)
        return {"block": describe(block), "bowl": describe(bowl)}, {"block": "block",
                                                                    "bowl": "bowl"}

    def success(self, episode: Episode, initial, final, steps) -> bool:
        block, bowl = final.object(episode.goal["block"]), final.object(episode.goal["bowl"])
        return held_block(final) is None and is_on(block, bowl)

    def oracle(self, episode: Episode, obs, done) -> SkillCall:
        return move_into(obs, episode.goal["block"], episode.goal["bowl"]) or SkillCall("done")
