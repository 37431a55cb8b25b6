"""`push(obj_k, dir)`: slide a block about 10 cm along a table direction with closed fingers."""

from __future__ import annotations

import numpy as np

from embodied_mm.skills.base import GRIPPER_CLOSED, HOVER_Z, Move, Observe, Skill, SkillFailure
from embodied_mm.table import DIRECTION_VECTORS, TABLE

PUSH_DISTANCE = 0.10  # m the block should travel
APPROACH_GAP = 0.03  # m between the fingers and the block's face before the push
PUSH_HEIGHT = 0.018  # m, tool centre height while pushing
MIN_DISPLACEMENT = 0.05  # m, below this the push failed


class PushSkill(Skill):
    """Closed fingers behind the block, a straight slow stroke, then lift away."""

    def script(self, name: str, direction: str):
        if self.holding():
            raise SkillFailure(f"cannot push {name} while holding an object")
        obj = self.block(name)
        d = np.asarray(DIRECTION_VECTORS[direction])
        start_xy = obj.position[:2].copy()
        end_obj = start_xy + d * PUSH_DISTANCE
        if not TABLE.contains(end_obj):
            raise SkillFailure(f"pushing {name} {direction} would push it off the table")
        # Finger pads (the tool's y axis) face the push direction.
        yaw = float(np.arctan2(d[1], d[0]) + np.pi / 2)
        yaw = (yaw + np.pi / 2) % np.pi - np.pi / 2
        behind = start_xy - d * (obj.size[0] / 2 + APPROACH_GAP)
        stroke_end = end_obj - d * (obj.size[0] / 2)
        yield Move(np.array([*behind, HOVER_Z]), yaw, GRIPPER_CLOSED)
        yield Move(np.array([*behind, PUSH_HEIGHT]), yaw, GRIPPER_CLOSED, speed=0.15)
        yield Move(np.array([*stroke_end, PUSH_HEIGHT]), yaw, GRIPPER_CLOSED, speed=0.1,
                   tolerance=0.015)
        yield Move(np.array([*stroke_end, HOVER_Z]), yaw, GRIPPER_CLOSED)
        yield Observe()
        moved = float(np.dot(self.obs.object(name).position[:2] - start_xy, d))
        if moved < MIN_DISPLACEMENT:
            raise SkillFailure(f"{name} moved only {moved:.3f} m {direction}")
