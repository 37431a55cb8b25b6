"""`ObjectMemory`: what a camera misses for a moment is still on the table.

A camera-based perception loses objects now and then: a block between the fingers hidden by
the hand, an object behind the arm or merged with it (a white bowl next to the white arm), a
detection that flickers between two near-identical frames. A skill or a planner that reads such
a frame sees its goal object gone and fails, although nothing changed. The memory fills those
gaps, and only those:

- **A grasped block moves with the hand.** When the gripper closes on something, the block
  (seen or remembered) between the fingers is attached at its pose in the tool frame at that
  moment, while it is still fully in view (clipped to `GRASP_ENVELOPE`: a block seen farther
  off the fingertips' centre is a bad detection; with none posed near enough to count as held,
  the nearest block within `ATTACH_RADIUS`, as seen now or as last seen with the arm away, is
  the one between the fingers); as long as the
  gripper stays closed it is reported at the hand's pose, seen or not (a block half hidden by
  the fingers is posed worse than that). When the gripper opens, that pose is forgotten: where
  the block went is known once the camera sees it again.
- **A still object stays while its absence is explained.** Only the arm moves objects, and the
  arm is also what hides them. An object missing from a frame is reported at its last seen
  pose while the arm is near it (within `ARM_RADIUS` of the segment from the robot's base to
  the tool, seen from above) or while the camera's view of that pose is blocked (the caller's
  `hidden` test, e.g. the depth image reads something nearer there: the arm's upper links
  pass between the camera and objects far from the tool), and for `hold_s` seconds of frame
  time after that, at most `max_hidden_s` in all. Missing while in plain view for `hold_s`,
  it is gone (e.g. removed).
- **A bowl seen beside the arm is where it was seen without it.** No skill moves a bowl (they
  pick, place and push blocks), but a bowl half hidden by the arm is posed off its centre (by
  centimetres: a block put "into" it lands on the rim). While the arm is near a bowl, the bowl
  is reported at its pose last seen with the arm away, if it was seen so in this scene; a
  bowl that really moved is posed anew once the arm leaves it.
- **A new object is not believed while it is next to the arm.** What a scene holds is seen in
  its first frame; an object that shows up later right beside the arm is almost always a piece
  of the arm or of a half-hidden object taken for a block (a white finger, a sliver of a red
  bowl between the links), and naming it would let it take over a real object's name. Such a
  detection is left out until it is seen away from the arm (a block an operator puts down).

Seen objects always come from the frame (a bowl beside the arm posed from an earlier one);
nothing is invented for an object the camera never saw. The memory reads only `Observation`s
in the robot's base frame, so the same rules hold on the sim and on hardware.

Example:
    memory = ObjectMemory(hold_s=0.5)
    obs = memory.update(obs)       # on every frame, before a skill or planner reads it
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from embodied_mm.robots.kinematics import quaternion_matrix, rotation_to_quaternion
from embodied_mm.scene import gripper_closed_on_something, held_block
from embodied_mm.types import ObjectState, Observation

ARM_RADIUS = 0.12  # m: how close to the arm (top view) an object may be hidden or merged
STILL_KINDS = ("bowl",)  # kinds no skill moves: posed from a clear view while the arm is near
# m, per axis of the tool frame: how far a block held between the fingertips can sit from the
# tool centre point (half a finger pad). A grasped block seen farther off is posed wrong (its
# mask took in a white finger), and is attached at the nearest pose the fingers allow.
GRASP_ENVELOPE = 0.015
# m: with the fingers closed on something and no block posed within `HELD_DISTANCE` of the tool
# (the frame at the grasp posed it badly), the nearest block this close is the one in the hand.
ATTACH_RADIUS = 0.08


@dataclass
class _Track:
    """One object: its last sight, when that was, when its absence was last explained (seen or
    the arm near it), and its pose in the tool frame while it is in the hand (else None)."""

    seen: ObjectState
    stamp: float
    explained_at: float
    in_hand: tuple[np.ndarray, np.ndarray] | None = None  # (offset, rotation) in the tool frame


def _tool(obs: Observation) -> tuple[np.ndarray, np.ndarray]:
    return obs.ee_pose[:3], quaternion_matrix(obs.ee_pose[3:])


def _near_arm(xyz: np.ndarray, tool: np.ndarray) -> bool:
    """Whether `xyz` lies within `ARM_RADIUS` of the base-to-tool segment, seen from above."""
    p, t = xyz[:2], tool[:2]
    along = float(np.clip(p @ t / max(float(t @ t), 1e-9), 0.0, 1.0))
    return float(np.linalg.norm(p - along * t)) <= ARM_RADIUS


def _in_fingers(obs: Observation, closed: bool,
                clear: dict[str, ObjectState]) -> ObjectState | None:
    """The block the closed fingers hold: the held block, else the block nearest the tool
    within `ATTACH_RADIUS`, as seen now or as last seen with the arm away (`clear`: a white
    block merged with the white fingers is posed centimetres off, but was where the fingers
    closed before they came near)."""
    held = held_block(obs)
    if held is not None or not closed:
        return held
    tool = obs.ee_pose[:3]

    def gap(o: ObjectState) -> float:
        views = [o.position] + ([clear[o.name].position] if o.name in clear else [])
        return min(float(np.linalg.norm(p - tool)) for p in views)

    near = [(gap(o), o) for o in obs.objects if o.kind == "block"]
    distance, nearest = min(near, key=lambda t: t[0], default=(np.inf, None))
    return nearest if distance < ATTACH_RADIUS else None


class ObjectMemory:
    """Fills short gaps in perceived objects (see the module docstring).

    Args:
        hold_s: how long a missed object stays once the arm is away from it, seconds of frame
            time (`Observation.objects_seen_at`); 0 keeps only what the arm explains.
        max_hidden_s: the longest a missed object is kept at all (a grasped block: while held).
    """

    def __init__(self, hold_s: float = 0.5, max_hidden_s: float = 10.0) -> None:
        if hold_s < 0 or max_hidden_s < 0:
            raise ValueError(f"hold_s and max_hidden_s must be >= 0, got {hold_s}, "
                             f"{max_hidden_s}")
        self.hold_s, self.max_hidden_s = hold_s, max_hidden_s
        self._tracks: dict[str, _Track] = {}
        self._believed: set[str] = set()  # every name accepted since the scene began
        self._clear: dict[str, ObjectState] = {}  # each object's last sight with the arm away

    def reset(self) -> None:
        """Forgets everything (a new scene)."""
        self._tracks.clear()
        self._believed.clear()
        self._clear.clear()

    def update(self, obs: Observation,
               hidden: Callable[[ObjectState], bool] | None = None) -> Observation:
        """`obs` with the objects it missed put back where the rules above know them to be.

        Args:
            obs: the frame's observation (objects as detected, the arm's state then).
            hidden: optional test of a missed object's last sight: whether the camera could
                not see it in this frame (its absence is then explained, like the arm's).
        """
        stamp = obs.objects_seen_at
        position, rotation = _tool(obs)
        closed = gripper_closed_on_something(obs)
        obs = self._without_newcomers_at_the_arm(obs, position)
        obs = self._posed_clear_of_the_arm(obs, position)
        seen = {o.name for o in obs.objects}
        for obj in obs.objects:
            old = self._tracks.get(obj.name)
            self._tracks[obj.name] = _Track(obj, stamp, stamp, old.in_hand if old else None)
        kept, carried = [], {}
        for name, track in list(self._tracks.items()):
            if track.in_hand is not None:
                if not closed:  # released or dropped: where it is now is unknown
                    track.in_hand = None
                    if name not in seen:
                        del self._tracks[name]
                    continue
                offset, relative = track.in_hand
                carried[name] = replace(
                    track.seen, position=position + rotation @ offset,
                    orientation=rotation_to_quaternion(rotation @ relative),
                    mask_id=track.seen.mask_id if name in seen else None)
                continue
            if name in seen:
                continue
            if _near_arm(track.seen.position, position) or (hidden is not None and
                                                            hidden(track.seen)):
                track.explained_at = stamp
            if stamp - track.explained_at > self.hold_s or \
                    stamp - track.stamp > self.max_hidden_s:
                del self._tracks[name]
                continue
            kept.append(replace(track.seen, mask_id=None))
        objects = [carried.get(o.name, o) for o in obs.objects]
        objects += [o for name, o in carried.items() if name not in seen] + kept
        filled = replace(obs, objects=objects) if kept or carried else obs
        self._attach(_in_fingers(filled, closed, self._clear), position, rotation, seen)
        return filled

    def _without_newcomers_at_the_arm(self, obs: Observation,
                                      tool: np.ndarray) -> Observation:
        """`obs` without objects never seen before that lie next to the arm (all are accepted
        in a scene's first frame with objects)."""
        doubtful = {o.name for o in obs.objects if self._believed
                    and o.name not in self._believed and _near_arm(o.position, tool)}
        believed = [o for o in obs.objects if o.name not in doubtful]
        self._believed.update(o.name for o in believed)
        return replace(obs, objects=believed) if doubtful else obs

    def _posed_clear_of_the_arm(self, obs: Observation, tool: np.ndarray) -> Observation:
        """`obs` with each `STILL_KINDS` object beside the arm at its pose last seen with the
        arm away (when there is one); every object seen away from the arm is remembered so."""
        posed = []
        for obj in obs.objects:
            clear = self._clear.get(obj.name)
            beside = _near_arm(obj.position, tool) or (
                clear is not None and _near_arm(clear.position, tool))
            if not beside:
                self._clear[obj.name] = obj
            elif obj.kind in STILL_KINDS and clear is not None:
                obj = replace(obj, position=clear.position, orientation=clear.orientation,
                              size=clear.size)
            posed.append(obj)
        return replace(obs, objects=posed)

    def _attach(self, held: ObjectState | None, position: np.ndarray, rotation: np.ndarray,
                seen: set[str]) -> None:
        """Attaches `held` (seen or remembered) to the hand at its pose now, once per grasp; a
        block that was in the hand and is not any more is forgotten unless seen."""
        for name, track in list(self._tracks.items()):
            if held is not None and name == held.name:
                if track.in_hand is None:
                    self._clear.pop(name, None)  # it moves with the hand from now on
                    offset = rotation.T @ (held.position - position)
                    track.in_hand = (np.clip(offset, -GRASP_ENVELOPE, GRASP_ENVELOPE),
                                     rotation.T @ quaternion_matrix(held.orientation))
            elif track.in_hand is not None:
                if name in seen:
                    track.in_hand = None
                else:
                    del self._tracks[name]
