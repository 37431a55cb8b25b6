"""End-effector jogging: operator velocity commands → end-effector targets at control rate.

A `Jog` integrates the newest twist (linear x/y/z in m/s, yaw rate in rad/s, base frame) into
a tool target and returns it as an `EndEffectorAction`, which the robot then clips like every
other command (workspace box, joint limits, joint speed). Speeds above the jog limits are
scaled down, non-finite values are refused, and a twist older than `timeout_s` stops the
motion (a dead-man: a device that stops publishing stops the arm).

Example:
    >>> import numpy as np
    >>> from embodied_mm.robots.kinematics import HOME
    >>> jog = Jog()
    >>> jog.command([0.1, 0.0, 0.0], 0.0, now=0.0)
    >>> jog.step(HOME, 0.08, now=0.05).position.round(3).tolist() != []
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from embodied_mm.robots.kinematics import PandaKinematics, yaw_of
from embodied_mm.types import EndEffectorAction

GRIPPER_OPEN, GRIPPER_CLOSED = 0.08, 0.0  # m


@dataclass(frozen=True)
class JogLimits:
    """How fast an operator may move the tool; the robot's own limits apply on top."""

    max_linear: float = 0.15  # m/s: slow enough to stop before contact at a human's reaction
    max_yaw: float = 0.8  # rad/s
    timeout_s: float = 0.3  # s a twist stays valid (dead-man)
    gripper_s: float = 1.0  # s the gripper target is sent after an open/close command


class Jog:
    """Integrates twists into tool targets; one instance per robot."""

    def __init__(self, limits: JogLimits | None = None,
                 kinematics: PandaKinematics | None = None) -> None:
        self.limits = limits or JogLimits()
        self.kinematics = kinematics or PandaKinematics()
        self._linear, self._yaw_rate, self._twist_at = np.zeros(3), 0.0, -np.inf
        self._gripper: float | None = None
        self._gripper_at = -np.inf
        self._target: np.ndarray | None = None  # x, y, z, yaw
        self._last = 0.0

    def command(self, linear: Sequence[float], yaw_rate: float, now: float) -> None:
        """Sets the velocity (base frame); raises ValueError for non-finite or malformed input."""
        v = np.asarray(linear, dtype=float)
        if v.shape != (3,) or not np.all(np.isfinite(v)) or not np.isfinite(yaw_rate):
            raise ValueError(f"jog needs 3 finite linear speeds and a finite yaw rate, got "
                             f"{list(np.ravel(v))} and {yaw_rate}")
        speed = float(np.linalg.norm(v))
        if speed > self.limits.max_linear:
            v = v * (self.limits.max_linear / speed)
        self._linear = v
        self._yaw_rate = float(np.clip(yaw_rate, -self.limits.max_yaw, self.limits.max_yaw))
        self._twist_at = now

    def gripper(self, close: bool, now: float) -> None:
        self._gripper = GRIPPER_CLOSED if close else GRIPPER_OPEN
        self._gripper_at = now

    def stop(self) -> None:
        """Forgets the velocity and the target (next motion starts from the measured pose)."""
        self._twist_at, self._gripper_at, self._target = -np.inf, -np.inf, None

    def step(self, joints: np.ndarray, width: float, now: float) -> EndEffectorAction | None:
        """The next tool target, or None when there is nothing to do (no fresh command)."""
        moving = now - self._twist_at <= self.limits.timeout_s
        gripping = now - self._gripper_at <= self.limits.gripper_s
        position, rotation = self.kinematics.forward(joints)
        measured = np.array([*position, yaw_of(rotation)])
        if not moving:
            self._target = None
            if not gripping:
                return None
        dt = float(np.clip(now - self._last, 0.0, 0.1))
        self._last = now
        # Integrate from the previous target (no lag), re-seeding if the arm fell behind.
        if self._target is None or np.linalg.norm(self._target[:3] - measured[:3]) > 0.03:
            self._target = measured.copy()
        if moving:
            self._target = self._target + dt * np.array([*self._linear, self._yaw_rate])
        target = self._target if self._target is not None else measured
        grip = self._gripper if self._gripper is not None else width
        return EndEffectorAction(target[:3].copy(), float(target[3]), float(grip))
