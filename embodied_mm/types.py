"""Shared vocabulary of the stack: what a robot observes, what a planner says, what a robot is told.

Every layer (sim, ROS nodes, planners, skills, executor) speaks these types, so a skill written
against an `Observation` runs unchanged on the PyBullet world and on a real arm.

Example:
    >>> from embodied_mm.types import SkillCall
    >>> str(SkillCall("pick", ("obj_2",)))
    'pick(obj_2)'
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ObjectState:
    """One object on the table, as perception (or the simulator's ground truth) sees it.

    Attributes:
        name: entity referral used in plan text, `obj_1` … `obj_N`.
        kind: `block` or `bowl`.
        color: colour word, e.g. `red`.
        position: (3,) centre of the object's bounding box in the world frame, metres.
        orientation: (4,) quaternion xyzw.
        size: (3,) bounding-box extent, metres.
        mask_id: segmentation id in `Observation.segmentation`, or None.
    """

    name: str
    kind: str
    color: str
    position: np.ndarray
    orientation: np.ndarray
    size: np.ndarray
    mask_id: int | None = None

    @property
    def description(self) -> str:
        """Colour and kind as words, e.g. `red block`."""
        return f"{self.color} {self.kind}"


@dataclass
class Observation:
    """Everything a planner or skill may read at one instant.

    Images are optional because control-rate observations skip rendering; real hardware fills
    what it has. Shapes: rgb (H, W, 3) uint8, depth (H, W) float32 metres, segmentation
    (H, W) int32 object ids.
    """

    joint_positions: np.ndarray  # (7,) rad
    gripper_width: float  # m, distance between the fingers
    ee_pose: np.ndarray  # (7,) xyz + quaternion xyzw of the tool centre point
    objects: list[ObjectState] = field(default_factory=list)
    rgb: np.ndarray | None = None
    depth: np.ndarray | None = None
    segmentation: np.ndarray | None = None
    stamp: float = 0.0  # s, sim time or ROS time
    # When `objects` were observed (camera capture time); None = at `stamp` (ground truth).
    objects_stamp: float | None = None

    @property
    def objects_seen_at(self) -> float:
        return self.stamp if self.objects_stamp is None else self.objects_stamp

    def object(self, name: str) -> ObjectState:
        """Returns the object called `name`; raises KeyError naming the known objects."""
        for obj in self.objects:
            if obj.name == name:
                return obj
        known = ", ".join(o.name for o in self.objects) or "none"
        raise KeyError(f"no object {name!r} in the scene (known: {known})")

    @property
    def object_names(self) -> list[str]:
        return [o.name for o in self.objects]


@dataclass(frozen=True)
class SkillCall:
    """One plan step: a skill name and its arguments; `str(call)` is its plan text."""

    name: str
    args: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.name}({', '.join(self.args)})"

    @property
    def is_terminal(self) -> bool:
        """True for `done()` and `cannot()`, which end an episode and move nothing."""
        return self.name in ("done", "cannot")


@dataclass(frozen=True)
class JointAction:
    """A joint-space command: 7 arm joint positions (rad) and a gripper opening (m)."""

    joint_positions: np.ndarray
    gripper_width: float


@dataclass(frozen=True)
class EndEffectorAction:
    """A Cartesian command for the tool centre point, turned into joints by the robot's IK.

    The gripper always points down (top grasps); `yaw` rotates it about the world z axis.
    """

    position: np.ndarray  # (3,) m, world frame
    yaw: float  # rad
    gripper_width: float  # m


Action = JointAction | EndEffectorAction
