"""`pick_place`: put a named block into a named bowl."""

from __future__ import annotations

from embodied_mm.tasks.base import PutOnTask, SceneBuilder, ref


class PickPlace(PutOnTask):
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
        return {"frame": "place", "mover": ref(block), "target": ref(bowl)}, {
            "block": "block", "target": "bowl"}

    def template_words(self, words):
        return {"block": words["mover"], "bowl": words["target"]}
