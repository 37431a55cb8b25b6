"""`sort_by_color`: every block into the bowl of its colour (extra bowls are distractors)."""

from __future__ import annotations

from embodied_mm.scene import held_block, is_on
from embodied_mm.tasks.base import Episode, SceneBuilder, Task, move_into
from embodied_mm.types import SkillCall


class SortByColor(Task):
    name = "sort_by_color"
    templates = (
        "sort the blocks into the bowls of the same color",
        "put each block that has a bowl of its color into that bowl",
        "put each block in the bowl that matches its color",
        "put every block into the bowl of its color",
        "match the blocks to the bowls by color",
        "place each block in the same-colored bowl",
    )
    max_steps = 10

    def sample_scene(self, scene: SceneBuilder, n_distractors: int):
        pairs = int(scene.rng.integers(2, 4))
        for i in range(pairs):
            color = scene.pick_color("bowl", exclude=scene.used_colors("block"))
            scene.add("bowl", color, role=f"bowl_{i}")
            scene.add("block", color, role=f"block_{i}")
        # Distractors: bowls with no block of their colour, blocks with no bowl of theirs
        # (those stay where they are: they have no bowl to go to).
        for _ in range(n_distractors):
            kind = str(scene.rng.choice(["block", "bowl"]))
            other = "bowl" if kind == "block" else "block"
            scene.add(kind, scene.pick_color(kind, exclude=scene.used_colors(other)))
        pairs_roles = [[f"block_{i}", f"bowl_{i}"] for i in range(pairs)]
        return {"frame": "sort"}, {f"pair_{i}": roles for i, roles in enumerate(pairs_roles)}

    def _pairs(self, episode: Episode) -> list[tuple[str, str]]:
        return [tuple(v) for k, v in sorted(episode.goal.items()) if k.startswith("pair_")]

    def success(self, episode: Episode, initial, final, steps) -> bool:
        return held_block(final) is None and all(
            is_on(final.object(b), final.object(bowl)) for b, bowl in self._pairs(episode))

    def oracle(self, episode: Episode, obs, done) -> SkillCall:
        held = held_block(obs)
        pairs = self._pairs(episode)
        if held is not None:  # finish what is in hand first
            pairs = sorted(pairs, key=lambda pair: pair[0] != held.name)
        for block, bowl in pairs:
            step = move_into(obs, block, bowl)
            if step is not None:
                return step
        return SkillCall("done")
