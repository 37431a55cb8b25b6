"""`ObjectMemory`: what a camera misses for a moment is still on the table.

A camera-based perception loses objects now and then: a block between the fingers hidden by
the hand, or a detection that flickers between two near-identical frames of a still scene.
A skill or a planner that reads such a frame sees its goal object gone and fails, although
nothing changed. The memory fills those gaps, and only those:

- **A grasped block moves with the hand.** While the gripper stays closed on something, the
  block last seen between the fingers is reported at the hand's pose (its offset in the tool
  frame as last seen). When the gripper opens, that pose is forgotten: where the block went is
  only known once the camera sees it again.
- **A still object stays for `hold_s`.** An object missing from a frame is reported at its last
  seen pose for up to `hold_s` seconds of frame time, unless it was last seen in the hand (a
  released block is never put back where it was).

Seen objects always come from the frame; nothing is invented for an object the camera never
saw. The memory reads only `Observation`s, so the same rules hold on the sim and on hardware.

Example:
    memory = ObjectMemory(hold_s=0.5)
    obs = memory.update(obs)       # after each observation, before a skill or planner reads it
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from embodied_mm.robots.kinematics import quaternion_matrix, rotation_to_quaternion
from embodied_mm.scene import gripper_closed_on_something, held_block
from embodied_mm.types import ObjectState, Observation


@dataclass
class _Track:
    """The last sight of one object: its state, the frame time, and its pose in the tool frame
    when it was between the fingers (else None)."""

    seen: ObjectState
    stamp: float
    in_hand: tuple[np.ndarray, np.ndarray] | None = None  # (offset, rotation) in the tool frame


def _tool(obs: Observation) -> tuple[np.ndarray, np.ndarray]:
    return obs.ee_pose[:3], quaternion_matrix(obs.ee_pose[3:])


class ObjectMemory:
    """Fills short gaps in perceived objects (see the module docstring).

    Args:
        hold_s: how long a missed still object is kept at its last pose, seconds of frame time
            (`Observation.objects_stamp`); 0 keeps only a grasped block.
    """

    def __init__(self, hold_s: float = 0.5) -> None:
        if hold_s < 0:
            raise ValueError(f"hold_s must be >= 0, got {hold_s}")
        self.hold_s = hold_s
        self._tracks: dict[str, _Track] = {}

    def reset(self) -> None:
        """Forgets everything (a new scene)."""
        self._tracks.clear()

    def update(self, obs: Observation) -> Observation:
        """`obs` with the objects it missed put back where the rules above know them to be."""
        stamp = obs.objects_seen_at
        position, rotation = _tool(obs)
        closed = gripper_closed_on_something(obs)
        held = held_block(obs)
        for obj in obs.objects:
            in_hand = None
            if held is not None and obj.name == held.name:
                in_hand = (rotation.T @ (obj.position - position),
                           rotation.T @ quaternion_matrix(obj.orientation))
            self._tracks[obj.name] = _Track(obj, stamp, in_hand)
        seen = {o.name for o in obs.objects}
        kept = []
        for name, track in list(self._tracks.items()):
            if name in seen:
                continue
            if track.in_hand is not None:
                if not closed or held is not None:  # released, or another block is in the hand
                    del self._tracks[name]
                    continue
                offset, relative = track.in_hand
                kept.append(replace(track.seen, position=position + rotation @ offset,
                                    orientation=rotation_to_quaternion(rotation @ relative),
                                    mask_id=None))
            elif stamp - track.stamp <= self.hold_s:
                kept.append(replace(track.seen, mask_id=None))
            else:
                del self._tracks[name]
        if not kept:
            return obs
        return replace(obs, objects=[*obs.objects, *sorted(kept, key=lambda o: o.name)])
