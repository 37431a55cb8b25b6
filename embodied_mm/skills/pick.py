"""`pick(obj_k)`: top grasp of a block, held by finger friction, lifted to hover height."""

from __future__ import annotations

import numpy as np

from embodied_mm.skills.base import (
    GRIPPER_CLOSED,
    GRIPPER_OPEN,
    HOVER_Z,
    Grip,
    Move,
    Observe,
    Skill,
    SkillFailure,
    grasp_yaw,
)
from embodied_mm.table import TABLE

LIFT_MIN = 0.05  # m the block must rise above its resting height to count as picked
# Fingers closer than this hold nothing (the smallest block is 4 cm): a pick may open them.
EMPTY_WIDTH = 0.03  # m


class PickSkill(Skill):
    """Approach from above, descend, close, lift; fails if the block did not come along."""

    def script(self, name: str):
        if self.holding() and self.obs.gripper_width >= EMPTY_WIDTH:
            raise SkillFailure(f"cannot pick {name}: the gripper already holds an object")
        obj = self.block(name)
        if not TABLE.contains(obj.position[:2]):
            where = np.round(obj.position[:2], 2).tolist()
            raise SkillFailure(f"{name} at {where} is out of reach")
        rest_z = obj.position[2]
        yaw = grasp_yaw(obj, self._yaw)
        yield Move(np.array([*obj.position[:2], HOVER_Z]), yaw, GRIPPER_OPEN)
        obj = self.block(name)  # re-read: the block may have moved meanwhile
        yaw = grasp_yaw(obj, yaw)
        yield Move(np.array([*obj.position[:2], obj.position[2] + 0.06]), yaw, GRIPPER_OPEN)
        grasp_z = max(obj.position[2] - 0.005, 0.012)
        yield Move(np.array([*obj.position[:2], grasp_z]), yaw, GRIPPER_OPEN, speed=0.15,
                   tolerance=0.006)
        yield Grip(GRIPPER_CLOSED)
        yield Move(np.array([*obj.position[:2], HOVER_Z]), yaw, GRIPPER_CLOSED, speed=0.25)
        yield Observe()
        if not self.holding():
            raise SkillFailure(f"grasp of {name} missed: the gripper closed on nothing")
        if self.obs.object(name).position[2] < rest_z + LIFT_MIN:
            raise SkillFailure(f"grasp of {name} failed: it did not lift")
