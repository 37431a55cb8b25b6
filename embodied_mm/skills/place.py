"""`place(obj_k)` and `place_at(zone)`: carry the held block, lower it, release, retreat."""

from __future__ import annotations

from collections.abc import Callable, Generator

import numpy as np

from embodied_mm.scene import CAMERA_SLACK, is_on
from embodied_mm.skills.base import (
    GRIPPER_CLOSED,
    GRIPPER_OPEN,
    HOVER_Z,
    Grip,
    Move,
    Observe,
    Skill,
    SkillFailure,
)
from embodied_mm.table import TABLE
from embodied_mm.types import ObjectState

RELEASE_CLEARANCE = 0.006  # m between the held block's bottom and the surface at release
# A placement is judged on up to this many fresh observations: one bad frame (a finger in the
# block's mask as the gripper leaves, a block missed for a frame) does not fail it.
VERIFY_FRAMES = 3
FREE_RADIUS = 0.09  # m: a table spot is free if no other object's centre is this close
# m: how far the open hand rises to see a placement it hides (straight up: a sideways move
# at release height can drag the placed block off a tower)
LOOK_UP = 0.12


class _Release(Skill):
    """Shared motion: lift, travel at hover height, descend, open, retreat."""

    def held(self) -> ObjectState:
        held = self.held_object()
        if held is None:
            raise SkillFailure(f"cannot {self.call}: the gripper holds no block")
        return held

    def carry_and_release(self, xy: np.ndarray, release_z: float):
        """Carries the held block so that *its* centre (not the tool's) ends above `xy`."""
        yaw = self._yaw
        held = self.held()
        # The block rarely sits exactly between the fingertips: correct for its offset.
        offset = held.position[:2] - self.tool_position[:2]
        xy = np.asarray(xy) - offset
        release_z = release_z + (self.tool_position[2] - held.position[2])
        travel_z = max(HOVER_Z, release_z + 0.04)
        yield Move(np.array([*self.tool_position[:2], travel_z]), yaw, GRIPPER_CLOSED)
        yield Move(np.array([*xy, travel_z]), yaw, GRIPPER_CLOSED)
        yield Move(np.array([*xy, release_z + 0.03]), yaw, GRIPPER_CLOSED, speed=0.2)
        yield Move(np.array([*xy, release_z]), yaw, GRIPPER_CLOSED, speed=0.08, tolerance=0.006)
        yield Grip(GRIPPER_OPEN)
        yield Move(np.array([*xy, travel_z]), yaw, GRIPPER_OPEN)
        yield Observe()

    def verified(self, check: Callable[[], bool]) -> Generator[Move | Observe, None, bool]:
        """Whether `check()` holds on one of up to `VERIFY_FRAMES` fresh observations (an
        object missing from one counts as the check failing there). If the objects it reads
        are missing from all of them, the open hand above the placement may be what hides it
        from the camera (a white block among white fingers): the hand rises `LOOK_UP` and the
        check gets as many more observations."""
        verdict = yield from self._judged(check, observe_first=False)
        if verdict is None:
            yield Move(self.tool_position + [0.0, 0.0, LOOK_UP], self._yaw, GRIPPER_OPEN)
            verdict = yield from self._judged(check, observe_first=True)
        return bool(verdict)

    def _judged(self, check: Callable[[], bool],
                observe_first: bool) -> Generator[Observe, None, bool | None]:
        """True if `check()` holds on one of `VERIFY_FRAMES` observations, False if not, None
        if what it reads was missing from all of them."""
        seen = False
        for frame in range(VERIFY_FRAMES):
            if frame or observe_first:
                yield Observe()
            try:
                if check():
                    return True
                seen = True
            except KeyError:
                continue
        return False if seen else None


class PlaceSkill(_Release):
    """Put the held block into a bowl or on top of another block."""

    def script(self, name: str):
        held = self.held()
        target = self.obs.object(name)
        if target.name == held.name:
            raise SkillFailure(f"cannot place {name} on itself")
        half = held.size[2] / 2
        if target.kind == "bowl":
            release_z = target.position[2] - target.size[2] / 2 + 0.01 + half + 0.02
        else:
            release_z = target.position[2] + target.size[2] / 2 + half + RELEASE_CLEARANCE
        yield from self.carry_and_release(target.position[:2], release_z)
        on = yield from self.verified(
            lambda: is_on(self.obs.object(held.name), self.obs.object(name), CAMERA_SLACK))
        if not on:
            relation = "in" if target.kind == "bowl" else "on"
            raise SkillFailure(f"{held.name} did not end up {relation} {name}")


class PlaceAtSkill(_Release):
    """Put the held block down at a free spot in a named table zone."""

    def script(self, zone: str):
        held = self.held()
        others = [o for o in self.obs.objects if o.name != held.name]
        xy = free_spot(TABLE.zone_center(zone), others)
        if xy is None:
            raise SkillFailure(f"no free spot in zone {zone}")
        yield from self.carry_and_release(xy, held.size[2] / 2 + RELEASE_CLEARANCE)

        def in_zone() -> bool:
            placed = self.obs.object(held.name)
            return TABLE.zone_of(placed.position[:2]) == zone and placed.position[2] <= held.size[2]

        if not (yield from self.verified(in_zone)):
            raise SkillFailure(f"{held.name} did not end up in zone {zone}")


def free_spot(center: np.ndarray, others: list[ObjectState], step: float = 0.03):
    """The free table point nearest `center`, searched on rings within one zone cell."""
    zone = TABLE.zone_of(center)
    for ring in range(4):
        count = max(1, 8 * ring)
        for k in range(count):
            angle = 2 * np.pi * k / count
            xy = center + ring * step * np.array([np.cos(angle), np.sin(angle)])
            if TABLE.zone_of(xy) != zone:
                continue
            if all(np.linalg.norm(o.position[:2] - xy) > FREE_RADIUS + o.size[0] / 2 - 0.02
                   for o in others):
                return xy
    return None
