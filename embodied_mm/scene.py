"""Spatial predicates over observed objects, shared by skills, task oracles and scene questions.

They read only `Observation`/`ObjectState`, so they work on ground truth in sim and on
perceived objects from a real camera alike.
"""

from __future__ import annotations

import numpy as np

from embodied_mm.types import ObjectState, Observation
from embodied_mm.vocabulary import COLORS

# Finger gap that means "closed on something": wider than closed-on-nothing, narrower than
# open (the largest block is 5 cm).
HOLD_MIN_WIDTH = 0.01  # m
HOLD_MAX_WIDTH = 0.07  # m
HELD_DISTANCE = 0.04  # m, a held block's centre lies this close to the tool centre point
# Resting tolerances (m): a block in a bowl keeps this far inside the bowl's rim; a block on a
# block sits within STACK_TOLERANCE of its resting height; on the table within TABLE_TOLERANCE.
BOWL_RIM_MARGIN = 0.01
STACK_TOLERANCE = 0.015
TABLE_TOLERANCE = 0.01
# Extra room (m) where "on" is judged from camera poses (a skill checking its placement, an
# oracle deciding its next step): both objects' pose and size errors add up. Success predicates
# on the simulator's state keep the strict tolerances.
CAMERA_SLACK = 0.01


def gripper_closed_on_something(obs: Observation) -> bool:
    return HOLD_MIN_WIDTH < obs.gripper_width < HOLD_MAX_WIDTH


def held_block(obs: Observation) -> ObjectState | None:
    """The block between the fingers, or None."""
    if not gripper_closed_on_something(obs):
        return None
    tool = obs.ee_pose[:3]
    blocks = [o for o in obs.objects if o.kind == "block"]
    if not blocks:
        return None
    nearest = min(blocks, key=lambda o: np.linalg.norm(o.position - tool))
    return nearest if np.linalg.norm(nearest.position - tool) < HELD_DISTANCE else None


def is_on(obj: ObjectState, support: ObjectState, slack: float = 0.0) -> bool:
    """True when `obj` rests in bowl `support`, or on top of block `support`; `slack` (m)
    widens every tolerance (`CAMERA_SLACK` for poses measured by a camera)."""
    offset = np.linalg.norm(obj.position[:2] - support.position[:2])
    top = support.position[2] + support.size[2] / 2
    if support.kind == "bowl":
        inner_radius = support.size[0] / 2 - BOWL_RIM_MARGIN
        return offset < inner_radius - obj.size[0] / 4 + slack and \
            obj.position[2] < top + obj.size[2] + slack
    resting_z = top + obj.size[2] / 2
    return offset < support.size[0] / 2 + slack and \
        abs(obj.position[2] - resting_z) < STACK_TOLERANCE + slack


def on_table(obj: ObjectState) -> bool:
    """True when the object rests directly on the table surface."""
    return abs(obj.position[2] - obj.size[2] / 2) < TABLE_TOLERANCE


def moved(before: ObjectState, after: ObjectState, tolerance: float = 0.01) -> bool:
    return bool(np.linalg.norm(after.position - before.position) > tolerance)


def object_feature_vector(obj: ObjectState) -> list[float]:
    """The 10 numbers describing an object: position (3), size (3), colour rgb (3), is-block.

    Shared by the gym observation and the `/embodied_mm/object_features` topic.
    """
    rgb = COLORS.get(obj.color, (0.5, 0.5, 0.5))
    return [*map(float, obj.position), *map(float, obj.size), *rgb,
            float(obj.kind == "block")]
