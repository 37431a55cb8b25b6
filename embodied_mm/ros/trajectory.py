"""Following `JointTrajectory` messages the way ros2_control's trajectory controller does.

A new trajectory replaces the current one; point times are relative to the header stamp (zero
stamp = now); between points positions are interpolated linearly, from the measured position
to the first point, and the last point is held. Joint names may come in any order; a
trajectory that misses a joint, names an unknown one, or holds NaN is rejected.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from trajectory_msgs.msg import JointTrajectory

from embodied_mm.ros.conversions import MessageError


class TrajectoryFollower:
    """Position targets over time for a fixed set of joints, clamped to their limits."""

    def __init__(self, joints: Sequence[str], lower: np.ndarray, upper: np.ndarray) -> None:
        self.joints = tuple(joints)
        self.lower, self.upper = np.asarray(lower, float), np.asarray(upper, float)
        self._times = np.zeros(1)
        self._points = np.zeros((1, len(self.joints)))

    def hold(self, position: np.ndarray) -> None:
        """Holds `position` from now on (drops any trajectory)."""
        self._times = np.zeros(1)
        self._points = np.clip(np.asarray(position, float), self.lower, self.upper)[None]

    def set(self, msg: JointTrajectory, start: float, current: np.ndarray) -> None:
        """Replaces the trajectory; raises MessageError (keeping the old one) if malformed."""
        points, offsets = ordered_points(msg, self.joints)
        current = np.clip(np.asarray(current, float), self.lower, self.upper)
        self._times = np.array([start, *(start + offsets)])
        self._points = np.vstack([current, *np.clip(points, self.lower, self.upper)])

    def target(self, now: float) -> np.ndarray:
        """Position target at time `now` (s)."""
        if now <= self._times[0] or len(self._times) == 1:
            return self._points[0].copy()
        if now >= self._times[-1]:
            return self._points[-1].copy()
        i = int(np.searchsorted(self._times, now)) - 1
        span = max(self._times[i + 1] - self._times[i], 1e-9)
        alpha = (now - self._times[i]) / span
        return (1 - alpha) * self._points[i] + alpha * self._points[i + 1]


def ordered_points(msg: JointTrajectory, joints: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(positions (N, len(joints)) in the order of `joints`, time_from_start (N,) s) of `msg`.

    Raises:
        MessageError: no points, an unknown or missing joint (the two gripper fingers are
            coupled: one finger name is enough), a point of the wrong length or with NaN or
            infinite positions, or decreasing times.
    """
    if not msg.points:
        raise MessageError("trajectory has no points")
    names = list(msg.joint_names)
    unknown = [n for n in names if n not in joints]
    missing = [j for j in joints if j not in names]
    if unknown:
        raise MessageError(f"unknown joint(s) {', '.join(unknown)}; "
                           f"this controller has {', '.join(joints)}")
    if missing and not (len(joints) == 2 and len(names) == 1):
        raise MessageError(f"trajectory misses joint(s) {', '.join(missing)}")
    order = [names.index(j) if j in names else 0 for j in joints]
    points, times = [], []
    for i, point in enumerate(msg.points):
        if len(point.positions) != len(names):
            raise MessageError(f"point {i} has {len(point.positions)} positions for "
                               f"{len(names)} joints")
        values = np.asarray(point.positions, float)[order]
        if not np.all(np.isfinite(values)):
            raise MessageError(f"point {i} holds NaN or infinite positions")
        points.append(values)
        times.append(point.time_from_start.sec + point.time_from_start.nanosec * 1e-9)
    if np.any(np.diff(times) < 0):
        raise MessageError("trajectory point times must not decrease")
    return np.array(points), np.array(times)
