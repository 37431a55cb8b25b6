"""`stack`: put one named block on top of another."""

from __future__ import annotations

from embodied_mm.tasks.base import PutOnTask, SceneBuilder, ref


class Stack(PutOnTask):
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
        return {"frame": "place", "mover": ref(top), "target": ref(bottom)}, {
            "block": "top", "target": "bottom"}

    def template_words(self, words):
        return {"top": words["mover"], "bottom": words["target"]}
