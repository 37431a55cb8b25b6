"""`push_to_side`: push a named block until it lies on a given side of the table."""

from __future__ import annotations

import numpy as np

from embodied_mm.table import DIRECTION_VECTORS, SIDE_OF_DIRECTION, TABLE
from embodied_mm.tasks.base import Episode, SceneBuilder, Task, ref
from embodied_mm.types import SkillCall

CORRIDOR_HALF_WIDTH = 0.07  # m kept clear on each side of the push path


class PushToSide(Task):
    name = "push_to_side"
    templates = (
        "push the {block} to the {side} side of the table",
        "slide the {block} over to the {side}",
        "nudge the {block} towards the {side} of the table",
        "push the {block} {direction} until it is on the {side} side",
        "move the {block} to the {side} side by pushing it",
    )
    max_steps = 5

    def sample_scene(self, scene: SceneBuilder, n_distractors: int):
        direction = str(scene.rng.choice(list(DIRECTION_VECTORS)))
        d = np.asarray(DIRECTION_VECTORS[direction])
        cx, cy = TABLE.center
        # Start in the middle band so one or two pushes reach the side.
        middle = (cx - 0.06, cx + 0.06, cy - 0.06, cy + 0.06)
        block = scene.add("block", role="block", region=middle)
        start = np.asarray(block.position)

        def in_corridor(xy) -> bool:
            rel = np.asarray(xy) - start
            along = float(np.dot(rel, d))
            across = abs(float(rel[0] * d[1] - rel[1] * d[0]))
            return -0.12 < along < 0.45 and across < CORRIDOR_HALF_WIDTH + 0.05

        scene.add_distractors(n_distractors, keep_out=in_corridor)
        side = SIDE_OF_DIRECTION[direction]
        words = {"frame": "push", "mover": ref(block), "side": side, "direction": direction}
        return words, {"block": "block", "side": side, "direction": direction}

    def template_words(self, words):
        direction_words = {"forward": "away from the robot", "backward": "towards the robot"}
        return {"block": words["mover"], "side": words["side"],
                "direction": direction_words.get(words["direction"], words["direction"])}

    def success(self, episode: Episode, initial, final, steps) -> bool:
        block = final.object(episode.goal["block"])
        return TABLE.on_side(block.position[:2], episode.goal["side"]) and block.position[2] < 0.04

    def oracle(self, episode: Episode, obs, done) -> SkillCall:
        block = obs.object(episode.goal["block"])
        if TABLE.on_side(block.position[:2], episode.goal["side"]):
            return SkillCall("done")
        return SkillCall("push", (episode.goal["block"], episode.goal["direction"]))
