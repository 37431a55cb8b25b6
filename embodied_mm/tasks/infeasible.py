"""`infeasible`: the instruction names an absent object or asks the impossible → `cannot()`.

Success means the planner answered `cannot()` and nothing in the scene moved.
"""

from __future__ import annotations

from embodied_mm.plan_language import ZONES
from embodied_mm.scene import moved
from embodied_mm.tasks.base import Episode, SceneBuilder, Task, describe, ref
from embodied_mm.types import SkillCall


class Infeasible(Task):
    name = "infeasible"
    templates = (
        "put the {absent_block} in the {bowl}",  # no such block
        "stack the {block} on the {absent_block}",  # no such block to stack on
        "put the {block} in the {absent_bowl}",  # no such bowl
        "put the {bowl} on top of the {block}",  # bowls are fixtures, they cannot be lifted
        "push the {bowl} to the {side} side of the table",  # nor pushed
        "place the {absent_block} into the {bowl}",
        "move the {bowl} to the {side} side",
        "shove the {bowl} toward the {side}",
        "lift the {bowl} and set it on the {block}",
        "drop the {block} into the {absent_bowl}",
        "slide the {bowl} over to the {side}",  # a paraphrase of pushing a bowl: held out
    )
    max_steps = 3

    def sample_scene(self, scene: SceneBuilder, n_distractors: int):
        # A block and a bowl, as in `pick_place`: with the same distractors the scenes have the
        # same object counts as feasible ones, so a learned planner cannot take "many objects"
        # for "impossible".
        block = scene.add("block")
        bowl = scene.add("bowl")
        scene.add_distractors(n_distractors)
        absent_block = {"kind": "block", "color": scene.pick_color("block")}
        absent_bowl = {"kind": "bowl", "color": scene.pick_color("bowl")}
        side = str(scene.rng.choice(["left", "right"]))
        zone = str(scene.rng.choice(ZONES))
        goals = (  # what is asked: an absent object, or a bowl (a fixture) moved
            {"frame": "place", "mover": absent_block, "target": ref(bowl)},
            {"frame": "place", "mover": ref(block), "target": absent_block},
            {"frame": "place", "mover": ref(block), "target": absent_bowl},
            {"frame": "place", "mover": ref(bowl), "target": ref(block)},
            {"frame": "push", "mover": ref(bowl), "side": side, "direction": side},
            {"frame": "zone", "mover": ref(bowl), "zone": zone},
        )
        words = goals[int(scene.rng.integers(len(goals)))]
        # The fixed templates name their own impossibility; these are their slot values.
        words["template"] = {"block": describe(block), "bowl": describe(bowl),
                             "absent_block": f"{absent_block['color']} block",
                             "absent_bowl": f"{absent_bowl['color']} bowl", "side": side}
        return words, {}

    def template_words(self, words):
        return words["template"]

    def success(self, episode: Episode, initial, final, steps) -> bool:
        said_cannot = bool(steps) and steps[-1].name == "cannot"
        after = {o.name: o for o in final.objects}
        return said_cannot and not any(moved(o, after[o.name]) for o in initial)

    def oracle(self, episode: Episode, obs, done) -> SkillCall:
        return SkillCall("cannot")


