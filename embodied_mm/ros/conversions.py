"""Message ↔ stack-type conversions with numpy (no cv_bridge), validating as they go.

Malformed messages raise `MessageError` with the reason, so nodes can log it, drop the message
and keep running.

Example:
    >>> msg = image_to_msg(np.zeros((2, 3, 3), np.uint8), "rgb8")
    >>> image_from_msg(msg).shape
    (2, 3, 3)
"""

from __future__ import annotations

import json
from collections.abc import Sequence

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
}


class MessageError(ValueError):
    """A message that cannot be used; the text says why."""


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


def joint_state_msg(q: np.ndarray, gripper_width: float, stamp: float,
                    velocities: np.ndarray | None = None) -> JointState:
    msg = JointState(name=[*ARM_JOINTS, *FINGER_JOINTS],
                     position=[*map(float, q), gripper_width / 2, gripper_width / 2])
    if velocities is not None:
        msg.velocity = [*map(float, velocities), 0.0, 0.0]
    msg.header.stamp = to_time(stamp)
    return msg


def joint_state_from_msg(msg: JointState) -> tuple[np.ndarray, float]:
    """Arm joints (7,) in Panda order and gripper width, whatever order the names come in."""
    if len(msg.name) != len(msg.position):
        raise MessageError(f"joint_states has {len(msg.name)} names but "
                           f"{len(msg.position)} positions")
    by_name = dict(zip(msg.name, msg.position))
    missing = [j for j in ARM_JOINTS if j not in by_name]
    if missing:
        raise MessageError(f"joint_states lacks {', '.join(missing)}")
    q = np.array([by_name[j] for j in ARM_JOINTS], dtype=float)
    fingers = [by_name[j] for j in FINGER_JOINTS if j in by_name]
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
    delete_all = Marker(action=Marker.DELETEALL)
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
