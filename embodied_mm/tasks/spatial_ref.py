"""`spatial_ref`: put a block named by a spatial relation (leftmost, closest to X, …) in a bowl.

The sampler only keeps scenes where the relation picks one block by a clear margin, so the
instruction is never ambiguous.
"""

from __future__ import annotations

import numpy as np

from embodied_mm.tasks.base import PutOnTask, SceneBuilder, SceneFull, ref
from embodied_mm.tasks.specs import ObjectSpec

UNAMBIGUOUS_MARGIN = 0.06  # m between the best and second-best block under the relation


class SpatialRef(PutOnTask):
    name = "spatial_ref"
    templates = (
        "put the {referent} in the {bowl}",
        "place the {referent} into the {bowl}",
        "pick up the {referent} and drop it in the {bowl}",
        "move the {referent} to the {bowl}",
        "the {referent} goes in the {bowl}",
    )
    max_steps = 6

    def sample_scene(self, scene: SceneBuilder, n_distractors: int):
        relation = str(scene.rng.choice(["leftmost", "rightmost", "nearest", "farthest",
                                         "closest_to"]))
        bowl = scene.add("bowl", role="bowl")
        anchor = scene.add("bowl") if relation == "closest_to" else None
        blocks = [scene.add("block") for _ in range(int(scene.rng.integers(2, 4)))]
        scene.add_distractors(n_distractors)
        blocks = [s for s in scene.specs if s.kind == "block"]
        scores = np.array([_score(relation, b, anchor) for b in blocks])  # higher wins
        order = np.argsort(-scores)
        if len(blocks) < 2 or scores[order[0]] - scores[order[1]] < UNAMBIGUOUS_MARGIN:
            raise SceneFull("relation is ambiguous in this scene")
        scene.set_role(blocks[order[0]], "block")
        referent = {"kind": "block", "relation": relation,
                    "anchor": ref(anchor) if anchor else None}
        return {"frame": "place", "mover": referent, "target": ref(bowl)}, {
            "block": "block", "target": "bowl", "relation": relation}

    def template_words(self, words):
        anchor = words["mover"]["anchor"]
        referent = {
            "leftmost": "leftmost block", "rightmost": "rightmost block",
            "nearest": "block nearest the robot", "farthest": "block farthest from the robot",
            "closest_to": f"block closest to the {anchor['color']} {anchor['kind']}"
            if anchor else "",
        }[words["mover"]["relation"]]
        return {"referent": referent, "bowl": words["target"]}


def _score(relation: str, block: ObjectSpec, anchor: ObjectSpec | None) -> float:
    x, y = block.position
    if relation == "leftmost":
        return y
    if relation == "rightmost":
        return -y
    if relation == "nearest":
        return -x
    if relation == "farthest":
        return x
    return -float(np.hypot(x - anchor.position[0], y - anchor.position[1]))
