"""`place_at_zone`: put a named block in a named table zone (side, corner or centre)."""

from __future__ import annotations

import numpy as np

from embodied_mm.plan_language import ZONES
from embodied_mm.scene import held_block
from embodied_mm.table import TABLE
from embodied_mm.tasks.base import Episode, SceneBuilder, Task, free_zone, ref
from embodied_mm.types import SkillCall

ZONE_WORDS = {
    "left": "left side", "right": "right side", "front": "front edge", "back": "back edge",
    "center": "center", "front_left": "front left corner", "front_right": "front right corner",
    "back_left": "back left corner", "back_right": "back right corner",
}


class PlaceAtZone(Task):
    name = "place_at_zone"
    templates = (
        "move the {block} to the {zone} of the table",
        "put the {block} in the {zone} of the table",
        "place the {block} at the {zone}",
        "pick up the {block} and set it down at the {zone}",
        "take the {block} to the {zone}",
    )
    max_steps = 5

    def sample_scene(self, scene: SceneBuilder, n_distractors: int):
        zone = str(scene.rng.choice(ZONES))
        center = TABLE.zone_center(zone)

        def near_zone(xy) -> bool:
            return bool(np.linalg.norm(np.asarray(xy) - center) < 0.13)

        block = scene.add("block", role="block", keep_out=near_zone)
        scene.add_distractors(n_distractors, keep_out=near_zone)
        return {"frame": "zone", "mover": ref(block), "zone": zone}, {"block": "block",
                                                                       "zone": zone}

    def template_words(self, words):
        return {"block": words["mover"], "zone": ZONE_WORDS[words["zone"]]}

    def success(self, episode: Episode, initial, final, steps) -> bool:
        block = final.object(episode.goal["block"])
        return (held_block(final) is None and block.position[2] < block.size[2]
                and TABLE.zone_of(block.position[:2]) == episode.goal["zone"])

    def oracle(self, episode: Episode, obs, done) -> SkillCall:
        name, zone = episode.goal["block"], episode.goal["zone"]
        held = held_block(obs)
        if held is not None:
            return SkillCall("place_at", (zone if held.name == name else free_zone(obs),))
        block = obs.object(name)
        if TABLE.zone_of(block.position[:2]) == zone:
            return SkillCall("done")
        return SkillCall("pick", (name,))
