"""Message ↔ stack-type conversions with numpy (no cv_bridge), validating as they go.

Malformed messages raise `MessageError` with the reason, so nodes can log it, drop the message
and keep running. Depth comes as `32FC1` metres (the sim, some drivers) or `16UC1`/`mono16`
millimetres (RealSense, Azure Kinect/Orbbec, ZED in their default modes); `depth_from_msg`
turns either into metres, a hole (0 mm, or a NaN/0 float) into NaN. Joint names are those of
`JointNames` (the Panda's by default; a Franka FR3 driver publishes `fr3_joint1…7`).

Example:
    >>> msg = image_to_msg(np.zeros((2, 3, 3), np.uint8), "rgb8")
    >>> image_from_msg(msg).shape
    (2, 3, 3)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Duration, Time
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from sensor_msgs.msg import Image, JointState
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint
from visualization_msgs.msg import Marker, MarkerArray

from embodied_mm.ros.topics import ARM_JOINTS, FINGER_JOINTS
from embodied_mm.types import ObjectState
from embodied_mm.vocabulary import COLORS

# encoding -> (numpy dtype, channels)
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "32FC1": (np.dtype(np.float32), 1),
    "32SC1": (np.dtype(np.int32), 1),
    "16UC1": (np.dtype(np.uint16), 1),
    "mono16": (np.dtype(np.uint16), 1),
}
# Depth encodings -> metres per unit; REP 118: float depth in metres, integer depth in mm.
DEPTH_SCALE: dict[str, float] = {"32FC1": 1.0, "16UC1": 1e-3, "mono16": 1e-3}


class MessageError(ValueError):
    """A message that cannot be used; the text says why."""


@dataclass(frozen=True)
class JointNames:
    """The names a robot driver gives the arm's 7 joints and the gripper's finger joints.

    Attributes:
        arm: 7 names in kinematic order (base to flange), e.g. `fr3_joint1…7`.
        fingers: 1 or 2 finger joints, each at half the gripper width (m), as the Franka
            hand's `*_finger_joint1/2` are.
    """

    arm: tuple[str, ...] = ARM_JOINTS
    fingers: tuple[str, ...] = FINGER_JOINTS

    def __post_init__(self) -> None:
        object.__setattr__(self, "arm", tuple(str(n) for n in self.arm))
        object.__setattr__(self, "fingers", tuple(str(n) for n in self.fingers))
        if len(self.arm) != 7:
            raise ValueError(f"arm_joints needs the 7 arm joint names, got {list(self.arm)}")
        if len(self.fingers) not in (1, 2):
            raise ValueError(f"finger_joints needs 1 or 2 names, got {list(self.fingers)}")
        names = self.arm + self.fingers
        if "" in names or len(set(names)) != len(names):
            raise ValueError(f"joint names must be non-empty and distinct, got {list(names)}")


PANDA = JointNames()  # franka_description's Panda: panda_joint1…7, panda_finger_joint1/2


def to_time(seconds: float) -> Time:
    sec = int(np.floor(seconds))
    return Time(sec=sec, nanosec=int((seconds - sec) * 1e9))


def from_time(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def to_duration(seconds: float) -> Duration:
    sec = int(np.floor(seconds))
    return Duration(sec=sec, nanosec=int((seconds - sec) * 1e9))


def image_to_msg(array: np.ndarray, encoding: str, stamp: float = 0.0,
                 frame_id: str = "camera_color_optical_frame") -> Image:
    dtype, channels = ENCODINGS[encoding]
    array = np.ascontiguousarray(array, dtype=dtype)
    msg = Image(height=array.shape[0], width=array.shape[1], encoding=encoding,
                is_bigendian=0, step=array.shape[1] * channels * dtype.itemsize)
    msg.header.stamp = to_time(stamp)
    msg.header.frame_id = frame_id
    msg.data = array.tobytes()
    return msg


def image_from_msg(msg: Image, expected: str | None = None) -> np.ndarray:
    """Image message -> (H, W, 3) uint8 or (H, W) float32/int32; raises MessageError."""
    if msg.encoding not in ENCODINGS:
        raise MessageError(f"unsupported image encoding {msg.encoding!r}; "
                           f"expected one of {', '.join(ENCODINGS)}")
    if expected is not None and msg.encoding != expected:
        raise MessageError(f"image encoding {msg.encoding!r}, expected {expected!r}")
    dtype, channels = ENCODINGS[msg.encoding]
    row = msg.width * channels * dtype.itemsize
    if msg.height == 0 or msg.width == 0:
        raise MessageError("empty image")
    if msg.step != row or len(msg.data) != msg.step * msg.height:
        raise MessageError(f"image size mismatch: {msg.width}x{msg.height} {msg.encoding} "
                           f"needs step {row} and {row * msg.height} bytes, got step "
                           f"{msg.step} and {len(msg.data)} bytes")
    array = np.frombuffer(bytes(msg.data), dtype=dtype)
    if msg.is_bigendian:
        array = array.byteswap()
    shape = (msg.height, msg.width, channels) if channels > 1 else (msg.height, msg.width)
    return array.reshape(shape)


def depth_from_msg(msg: Image) -> np.ndarray:
    """Depth image message -> (H, W) float32 metres, NaN where the camera has no reading.

    Accepts `32FC1` (m) and `16UC1`/`mono16` (mm); 0 mm is a hole (no reading), not 0 m.
    Raises `MessageError` naming any other encoding.
    """
    if msg.encoding not in DEPTH_SCALE:
        raise MessageError(f"depth image encoding {msg.encoding!r} is not a depth encoding; "
                           f"expected one of {', '.join(DEPTH_SCALE)}")
    raw = image_from_msg(msg)
    depth = raw.astype(np.float32) * np.float32(DEPTH_SCALE[msg.encoding])
    with np.errstate(invalid="ignore"):
        depth[~(depth > 0)] = np.nan  # 0 (a hole), negative and NaN readings alike
    return depth


def depth_to_msg(depth: np.ndarray, encoding: str = "32FC1", stamp: float = 0.0,
                 frame_id: str = "camera_depth_optical_frame") -> Image:
    """(H, W) metres -> a depth image in `encoding`; NaN/<= 0 become 0 mm in 16UC1, NaN stays
    in 32FC1. Millimetres are rounded and saturate at 65.535 m."""
    if encoding not in DEPTH_SCALE:
        raise MessageError(f"depth image encoding {encoding!r} is not a depth encoding; "
                           f"expected one of {', '.join(DEPTH_SCALE)}")
    depth = np.asarray(depth, dtype=np.float32)
    if encoding != "32FC1":
        with np.errstate(invalid="ignore"):
            mm = np.where(depth > 0, np.round(depth / DEPTH_SCALE[encoding]), 0)
        depth = np.clip(mm, 0, np.iinfo(np.uint16).max)
    return image_to_msg(depth, encoding, stamp, frame_id)


def joint_state_msg(q: np.ndarray, gripper_width: float, stamp: float,
                    velocities: np.ndarray | None = None,
                    joints: JointNames = PANDA) -> JointState:
    fingers = [gripper_width / 2] * len(joints.fingers)
    msg = JointState(name=[*joints.arm, *joints.fingers],
                     position=[*map(float, q), *fingers])
    if velocities is not None:
        msg.velocity = [*map(float, velocities), *[0.0] * len(joints.fingers)]
    msg.header.stamp = to_time(stamp)
    return msg


def joint_state_from_msg(msg: JointState,
                         joints: JointNames = PANDA) -> tuple[np.ndarray, float]:
    """Arm joints (7,) in kinematic order and gripper width, whatever order the names come in
    (other joints in the message are ignored)."""
    if len(msg.name) != len(msg.position):
        raise MessageError(f"joint_states has {len(msg.name)} names but "
                           f"{len(msg.position)} positions")
    by_name = dict(zip(msg.name, msg.position))
    missing = [j for j in joints.arm if j not in by_name]
    if missing:
        raise MessageError(f"joint_states lacks {', '.join(missing)} (it has "
                           f"{', '.join(msg.name) or 'no joints'}; set arm_joints to match)")
    q = np.array([by_name[j] for j in joints.arm], dtype=float)
    fingers = [by_name[j] for j in joints.fingers if j in by_name]
    width = float(sum(fingers) / len(fingers) * 2) if fingers else float("nan")
    if not np.all(np.isfinite(q)) or not np.isfinite(width):
        raise MessageError("joint_states contains NaN or infinite positions")
    return q, width


def trajectory_msg(names: Sequence[str], positions: Sequence[Sequence[float]],
                   times: Sequence[float], stamp: float = 0.0) -> JointTrajectory:
    """A JointTrajectory; `times` are each point's time_from_start (s)."""
    msg = JointTrajectory(joint_names=list(names))
    msg.header.stamp = to_time(stamp)
    msg.points = [JointTrajectoryPoint(positions=[float(v) for v in pos],
                                       time_from_start=to_duration(t))
                  for pos, t in zip(positions, times)]
    return msg


def objects_to_markers(objects: Sequence[ObjectState], stamp: float,
                       frame_id: str = "panda_link0") -> MarkerArray:
    """One marker per object (cube for blocks, cylinder for bowls); identity in `text` JSON."""
    markers = MarkerArray()
    # Stamped like the objects: with nothing in view it is the only marker, and an empty
    # scene must read as a fresh observation, not as data from 1970.
    delete_all = Marker(action=Marker.DELETEALL)
    delete_all.header.stamp, delete_all.header.frame_id = to_time(stamp), frame_id
    markers.markers.append(delete_all)
    for i, obj in enumerate(objects):
        m = Marker(ns="embodied_mm/objects", id=i, action=Marker.ADD,
                   type=Marker.CUBE if obj.kind == "block" else Marker.CYLINDER)
        m.header.stamp, m.header.frame_id = to_time(stamp), frame_id
        m.pose.position.x, m.pose.position.y, m.pose.position.z = map(float, obj.position)
        (m.pose.orientation.x, m.pose.orientation.y, m.pose.orientation.z,
         m.pose.orientation.w) = map(float, obj.orientation)
        m.scale.x, m.scale.y, m.scale.z = map(float, obj.size)
        r, g, b = COLORS.get(obj.color, (0.5, 0.5, 0.5))
        m.color.r, m.color.g, m.color.b, m.color.a = r, g, b, 1.0
        m.text = json.dumps({"name": obj.name, "kind": obj.kind, "color": obj.color,
                             "mask_id": obj.mask_id})
        markers.markers.append(m)
    return markers


def objects_from_markers(msg: MarkerArray) -> list[ObjectState]:
    objects = []
    for m in msg.markers:
        if m.action != Marker.ADD:
            continue
        try:
            meta = json.loads(m.text)
            name, kind, color = meta["name"], meta["kind"], meta["color"]
        except (ValueError, KeyError, TypeError) as err:
            raise MessageError(f"object marker {m.id} has no identity JSON in text: {err}") \
                from None
        p, o, s = m.pose.position, m.pose.orientation, m.scale
        objects.append(ObjectState(name, kind, color, np.array([p.x, p.y, p.z]),
                                   np.array([o.x, o.y, o.z, o.w]), np.array([s.x, s.y, s.z]),
                                   meta.get("mask_id")))
    return objects


# -- skill status ---------------------------------------------------------------------------
LEVELS = {"running": DiagnosticStatus.OK, "succeeded": DiagnosticStatus.OK,
          "terminal": DiagnosticStatus.OK, "failed": DiagnosticStatus.WARN,
          "invalid": DiagnosticStatus.ERROR, "aborted": DiagnosticStatus.ERROR,
          "stale": DiagnosticStatus.WARN, "estop": DiagnosticStatus.ERROR,
          "gave_up": DiagnosticStatus.ERROR}


def status_msg(source: str, step: str, status: str, reason: str = "",
               seq: int = 0) -> DiagnosticStatus:
    """Skill status: `status` is running/succeeded/failed/invalid/terminal/aborted/stale/estop/
    gave_up (docs/ros.md)."""
    return DiagnosticStatus(
        level=LEVELS[status], name=source, message=f"{status}: {reason}" if reason else status,
        hardware_id="panda",
        values=[KeyValue(key="step", value=step), KeyValue(key="status", value=status),
                KeyValue(key="reason", value=reason), KeyValue(key="seq", value=str(seq))])


def status_from_msg(msg: DiagnosticStatus) -> dict[str, str]:
    values = {kv.key: kv.value for kv in msg.values}
    values.setdefault("status", msg.message.split(":")[0])
    values["source"] = msg.name
    return values
