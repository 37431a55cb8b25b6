"""Scenes for perception data: task-family scenes plus the cases colour thresholding loses.

Each scene kind poses a `sim.world.TabletopWorld` from a seeded generator, teleporting objects
(no physics after the settle) so the ground truth is exactly what is drawn:

- `task`: a task family's scene with 0-3 distractors (what episodes start from);
- `nested`: blocks in bowls, mostly of the bowl's own colour, sometimes two in one bowl;
- `touching`: same-coloured blocks side by side, and blocks against a bowl of their colour;
- `stack`: towers of 2-3 blocks, often of one colour;
- `held`: a block in the closed gripper above the table;
- `arm`: the arm reaching low over the objects (partial occlusion);
- `crowded`: 6-9 objects, colours and kinds repeated.

Outside `task`, the arm is also posed over the table in a third of the scenes.

Example:
    >>> import numpy as np
    >>> from sim.world import TabletopWorld
    >>> with TabletopWorld() as world:
    ...     pose_scene(world, "nested", np.random.default_rng(3))
    ...     len(world.object_states()) >= 2
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from embodied_mm.robots.kinematics import HOME, PandaKinematics
from embodied_mm.table import TABLE
from embodied_mm.vocabulary import COLORS

SCENE_KINDS: tuple[str, ...] = ("task", "nested", "touching", "stack", "held", "arm", "crowded")
_COLORS = list(COLORS)
_MARGIN = 0.02  # m, beyond the usable table area objects may still stand


def pose_scene(world, kind: str, rng: np.random.Generator) -> None:
    """Resets `world` to a random scene of `kind` (one of `SCENE_KINDS`)."""
    if kind not in _BUILDERS:
        raise ValueError(f"unknown scene kind {kind!r}; kinds: {', '.join(SCENE_KINDS)}")
    _BUILDERS[kind](world, rng)
    if kind not in ("task", "held", "arm") and rng.random() < 1 / 3:
        _arm_over_table(world, rng)


def _random_specs(rng: np.random.Generator, n: int, bowl_share: float = 0.35,
                  kinds: Sequence[str] = ()) -> list:
    """Up to `n` objects at non-overlapping random places (fewer if the table is full), the
    first ones of `kinds` (placed first, so they always fit), the rest random."""
    from embodied_mm.tasks.specs import BLOCK_SIZES, ObjectSpec

    specs: list = []
    for i in range(max(n, len(kinds))):
        kind = kinds[i] if i < len(kinds) else "bowl" if rng.random() < bowl_share else "block"
        color = str(rng.choice(_COLORS))
        size = float(rng.choice(BLOCK_SIZES))
        for _ in range(50):
            xy = (rng.uniform(TABLE.x_min - _MARGIN, TABLE.x_max + _MARGIN),
                  rng.uniform(TABLE.y_min - _MARGIN, TABLE.y_max + _MARGIN))
            spec = ObjectSpec(kind, color, xy, yaw=float(rng.uniform(-np.pi, np.pi)), size=size)
            if all(np.hypot(xy[0] - s.position[0], xy[1] - s.position[1]) >
                   spec.footprint_radius + s.footprint_radius + 0.01 for s in specs):
                specs.append(spec)
                break
    return specs


def _task(world, rng: np.random.Generator) -> None:
    from embodied_mm.tasks import TASKS

    name = str(rng.choice(sorted(TASKS)))
    episode = TASKS[name].sample(int(rng.integers(2**31)), n_distractors=int(rng.integers(4)))
    world.reset(episode.scene)


def _nested(world, rng: np.random.Generator) -> None:
    from embodied_mm.tasks.specs import BOWL_BASE, BOWL_RADIUS

    specs = _random_specs(rng, int(rng.integers(3, 7)), bowl_share=0.3, kinds=("bowl", "block"))
    bowls = [i for i, s in enumerate(specs) if s.kind == "bowl"]
    blocks = [i for i, s in enumerate(specs) if s.kind == "block"]
    pairs = list(zip(rng.permutation(bowls), rng.permutation(blocks)))[:2]
    for bowl, block in pairs:
        if rng.random() < 0.8:  # the hard case: the bowl's own colour
            specs[block] = _recolor(specs[block], specs[bowl].color)
    spare = [b for b in blocks if b not in [block for _, block in pairs]]
    # Sometimes two blocks of the bowl's colour share it, side by side along a face.
    second = int(spare[0]) if spare and rng.random() < 0.35 else None
    if second is not None:
        bowl, block = pairs[0]
        specs[second] = _recolor(specs[second], specs[bowl].color, yaw=specs[block].yaw)
    world.reset(specs)
    for k, (bowl, block) in enumerate(pairs):
        edge = specs[block].size
        center = np.asarray(specs[bowl].position)
        if k == 0 and second is not None:
            yaw = specs[block].yaw
            apart = (edge + specs[second].size) / 4 + 0.002
            axis = np.array([np.cos(yaw), np.sin(yaw)])
            for index, sign in ((block, 1), (second, -1)):
                world.move_object(f"obj_{index + 1}", center + sign * apart * axis,
                                  z=BOWL_BASE + specs[index].size / 2)
            continue
        reach = BOWL_RADIUS - edge * np.sqrt(2) / 2 - 0.004
        offset = rng.uniform(-1, 1, 2) * reach / np.sqrt(2)
        world.move_object(f"obj_{block + 1}", center + offset, z=BOWL_BASE + edge / 2)


def _touching(world, rng: np.random.Generator) -> None:
    from embodied_mm.tasks.specs import BOWL_RADIUS, BOWL_WALL

    specs = _random_specs(rng, int(rng.integers(3, 7)), bowl_share=0.25,
                          kinds=("block", "block"))
    blocks = [i for i, s in enumerate(specs) if s.kind == "block"]
    a, b = (int(i) for i in rng.choice(blocks, 2, replace=False))
    specs[b] = _recolor(specs[b], specs[a].color, yaw=specs[a].yaw)
    bowls = [i for i, s in enumerate(specs) if s.kind == "bowl"]
    others = [i for i in blocks if i not in (a, b)]
    beside = (int(rng.choice(bowls)), int(rng.choice(others))) if bowls and others else None
    if beside is not None:
        specs[beside[1]] = _recolor(specs[beside[1]], specs[beside[0]].color)
    world.reset(specs)
    yaw = specs[a].yaw + rng.choice([0, np.pi / 2, np.pi, -np.pi / 2])
    gap = (specs[a].size + specs[b].size) / 2 + rng.uniform(0.0005, 0.004)
    slide = rng.uniform(-0.3, 0.3) * min(specs[a].size, specs[b].size)
    xy = (np.asarray(specs[a].position) + gap * np.array([np.cos(yaw), np.sin(yaw)]) +
          slide * np.array([-np.sin(yaw), np.cos(yaw)]))
    world.move_object(f"obj_{b + 1}", xy, z=specs[b].size / 2)
    if beside is not None:
        bowl, block = beside
        angle = rng.uniform(-np.pi, np.pi)
        reach = BOWL_RADIUS + BOWL_WALL + specs[block].size * 0.72 + rng.uniform(0.001, 0.004)
        xy = np.asarray(specs[bowl].position) + reach * np.array([np.cos(angle), np.sin(angle)])
        world.move_object(f"obj_{block + 1}", xy, z=specs[block].size / 2)


def _stack(world, rng: np.random.Generator) -> None:
    specs = _random_specs(rng, int(rng.integers(3, 7)), bowl_share=0.2,
                          kinds=("block", "block"))
    blocks = [i for i, s in enumerate(specs) if s.kind == "block"]
    tower = [int(i) for i in rng.choice(blocks, min(len(blocks), int(rng.integers(2, 4))),
                                        replace=False)]
    if rng.random() < 0.5:
        for i in tower[1:]:
            specs[i] = _recolor(specs[i], specs[tower[0]].color)
    world.reset(specs)
    base = np.asarray(specs[tower[0]].position)
    z = specs[tower[0]].size
    for i in tower[1:]:
        xy = base + rng.uniform(-0.006, 0.006, 2)
        world.move_object(f"obj_{i + 1}", xy, z=z + specs[i].size / 2)
        z += specs[i].size


def _held(world, rng: np.random.Generator) -> None:
    specs = _random_specs(rng, int(rng.integers(2, 7)), bowl_share=0.35, kinds=("block",))
    index = int(rng.choice([i for i, s in enumerate(specs) if s.kind == "block"]))
    yaw = float(rng.uniform(-np.pi / 4, np.pi / 4))
    specs[index] = _recolor(specs[index], specs[index].color, yaw=yaw)  # square in the fingers
    world.reset(specs)
    size = specs[index].size
    tool = np.array([rng.uniform(TABLE.x_min, TABLE.x_max), rng.uniform(TABLE.y_min, TABLE.y_max),
                     rng.uniform(size / 2 + 0.01, 0.25)])
    q = PandaKinematics().inverse(tool, yaw=yaw, seed=HOME)
    world.reset_robot(q, gripper_width=size)
    reached, _ = PandaKinematics().forward(q)
    world.move_object(f"obj_{index + 1}", reached[:2], z=float(reached[2]))


def _arm(world, rng: np.random.Generator) -> None:
    world.reset(_random_specs(rng, int(rng.integers(2, 7))))
    _arm_over_table(world, rng, low=True)


def _crowded(world, rng: np.random.Generator) -> None:
    world.reset(_random_specs(rng, int(rng.integers(6, 10)), bowl_share=0.3))


def _arm_over_table(world, rng: np.random.Generator, low: bool = False) -> None:
    """Poses the arm with its tool over a random table point (lower when `low`)."""
    tool = np.array([rng.uniform(TABLE.x_min, TABLE.x_max), rng.uniform(TABLE.y_min, TABLE.y_max),
                     rng.uniform(0.06, 0.12) if low else rng.uniform(0.1, 0.35)])
    q = PandaKinematics().inverse(tool, yaw=float(rng.uniform(-np.pi / 4, np.pi / 4)), seed=HOME)
    world.reset_robot(q, gripper_width=float(rng.uniform(0.0, 0.08)))


def _recolor(spec, color: str, yaw: float | None = None):
    from dataclasses import replace

    return replace(spec, color=color, yaw=spec.yaw if yaw is None else yaw)


_BUILDERS: dict[str, Callable] = {"task": _task, "nested": _nested, "touching": _touching,
                                  "stack": _stack, "held": _held, "arm": _arm,
                                  "crowded": _crowded}
