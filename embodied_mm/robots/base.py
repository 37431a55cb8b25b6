"""The robot interface every skill talks to: observe, command, with safety clipping built in.

`Robot.send_action` accepts a joint or end-effector command, turns end-effector targets into
joints with the shared Panda IK, clips everything to the declared limits (workspace box, joint
position limits, joint speed per control period, gripper range) and only then hands the command
to the concrete robot. It returns what was really sent, so callers and tests can see the
clipping. Subclasses implement `_observe` and `_command`; they cannot skip the clipping.

Example:
    >>> from sim.robot import SimRobot  # doctest: +SKIP
    >>> with SimRobot(world) as robot:  # doctest: +SKIP
    ...     sent = robot.send_action(EndEffectorAction(np.array([0.5, 0, 0.2]), 0.0, 0.08))
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np

from embodied_mm.robots.kinematics import (
    JOINT_LOWER,
    JOINT_UPPER,
    JOINT_VELOCITY,
    PandaKinematics,
)
from embodied_mm.types import Action, EndEffectorAction, JointAction, Observation

WORKSPACE_TOLERANCE = 1e-3  # m a commanded tool position may lie outside the box (numerics)


@dataclass(frozen=True)
class RobotLimits:
    """Limits no command may cross. Defaults are the Panda's, with a table-top workspace box.

    The workspace box bounds the tool centre point in the robot base frame: it keeps the hand
    above the table surface (z_min) and inside the reachable, camera-visible area.
    """

    joint_lower: np.ndarray = field(default_factory=lambda: JOINT_LOWER.copy())
    joint_upper: np.ndarray = field(default_factory=lambda: JOINT_UPPER.copy())
    joint_velocity: np.ndarray = field(default_factory=lambda: JOINT_VELOCITY.copy())
    # Fraction of the rated joint speed commands may use: slower is safer near people.
    velocity_scale: float = 0.5
    workspace_lower: np.ndarray = field(default_factory=lambda: np.array([0.2, -0.45, 0.005]))
    workspace_upper: np.ndarray = field(default_factory=lambda: np.array([0.8, 0.45, 0.6]))
    gripper_max: float = 0.08  # m, fully open

    def __post_init__(self) -> None:
        if not 0.0 < self.velocity_scale <= 1.0:
            raise ValueError(f"velocity_scale must be in (0, 1], got {self.velocity_scale}")
        if np.any(self.workspace_lower >= self.workspace_upper):
            raise ValueError("workspace_lower must be below workspace_upper on every axis")

    def clip_position(self, position: np.ndarray) -> np.ndarray:
        return np.clip(position, self.workspace_lower, self.workspace_upper)

    def clip_gripper(self, width: float) -> float:
        return float(np.clip(width, 0.0, self.gripper_max))

    def clip_joints(self, target: np.ndarray, current: np.ndarray, dt: float) -> np.ndarray:
        """Clips a joint target to the position limits and a speed-limited step from `current`."""
        max_step = self.joint_velocity * self.velocity_scale * dt
        stepped = current + np.clip(target - current, -max_step, max_step)
        return np.clip(stepped, self.joint_lower, self.joint_upper)


class Robot(abc.ABC):
    """A 7-DoF arm with a parallel gripper, commanded at a fixed control rate.

    Use as a context manager (`connect` on enter, `disconnect` on exit).
    """

    def __init__(self, limits: RobotLimits | None = None, control_hz: float = 20.0) -> None:
        self.limits = limits or RobotLimits()
        self.control_hz = control_hz
        self.kinematics = PandaKinematics()
        self._connected = False

    # -- lifecycle -----------------------------------------------------------------------------
    def connect(self) -> None:
        self._connected = True

    def disconnect(self) -> None:
        self._connected = False

    @property
    def is_connected(self) -> bool:
        return self._connected

    def __enter__(self) -> Robot:
        self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.disconnect()

    # -- interface -----------------------------------------------------------------------------
    def get_observation(self, images: bool = True) -> Observation:
        """Reads the robot's state and scene.

        Args:
            images: also capture camera images (skipped at control rate to save time).
        """
        self._require_connected()
        return self._observe(images)

    def send_action(self, action: Action) -> JointAction:
        """Clips `action` to the limits, sends it, and returns the joint command really sent.

        Args:
            action: joint targets, or a tool-centre-point target solved with IK.

        Returns:
            The `JointAction` after IK and clipping.
        """
        self._require_connected()
        current = self.joint_positions()
        if isinstance(action, EndEffectorAction):
            position = self.limits.clip_position(np.asarray(action.position, dtype=float))
            target = self.kinematics.inverse(position, action.yaw, seed=current)
        elif isinstance(action, JointAction):
            target = np.asarray(action.joint_positions, dtype=float)
        else:
            raise TypeError(f"unsupported action type {type(action).__name__}")
        if target.shape != (7,) or not np.all(np.isfinite(target)):
            raise ValueError(f"joint target must be 7 finite numbers, got {target}")
        gripper = action.gripper_width
        if not np.isfinite(gripper):
            raise ValueError(f"gripper width must be finite, got {gripper}")
        joints = self.limits.clip_joints(target, current, 1.0 / self.control_hz)
        joints = self._keep_in_workspace(joints, current)
        sent = JointAction(joints, self.limits.clip_gripper(gripper))
        self._command(sent)
        return sent

    def _keep_in_workspace(self, joints: np.ndarray, current: np.ndarray) -> np.ndarray:
        """Shortens a joint step so the tool stays inside the workspace box.

        Bisects along the step from `current` for the furthest point whose tool position is
        inside the box. If the tool is already outside (pushed there, or overshooting), only
        a step that brings it closer to the box is let through, so the arm can recover.
        """
        if self._workspace_violation(joints) <= WORKSPACE_TOLERANCE:
            return joints
        current = np.clip(current, self.limits.joint_lower, self.limits.joint_upper)
        start_violation = self._workspace_violation(current)
        if start_violation > WORKSPACE_TOLERANCE:
            if self._workspace_violation(joints) < start_violation:
                return joints
            return current
        inside, outside = 0.0, 1.0
        for _ in range(10):
            mid = (inside + outside) / 2
            if self._workspace_violation(current + mid * (joints - current)) <= \
                    WORKSPACE_TOLERANCE:
                inside = mid
            else:
                outside = mid
        return current + inside * (joints - current)

    def _workspace_violation(self, joints: np.ndarray) -> float:
        position, _ = self.kinematics.forward(joints)
        return float(np.linalg.norm(position - self.limits.clip_position(position)))

    def joint_positions(self) -> np.ndarray:
        """Current arm joint angles (7,), rad."""
        return self.get_observation(images=False).joint_positions

    def _require_connected(self) -> None:
        if not self._connected:
            raise RuntimeError(f"{type(self).__name__} is not connected; call connect() first")

    @abc.abstractmethod
    def _observe(self, images: bool) -> Observation:
        """Concrete observation read-out."""

    @abc.abstractmethod
    def _command(self, action: JointAction) -> None:
        """Sends an already clipped joint command (in simulation: advances one control period)."""
