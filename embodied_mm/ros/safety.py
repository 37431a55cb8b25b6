"""One safety gate for every command source: the limits of `Robot.send_action`, applied to
joint targets that did not come through a `Robot` (trajectory topics, other processes).

- `SafetyGate.limit` clips a stream of joint targets (the sim's trajectory follower, at its
  physics rate) exactly as `Robot.send_action` clips a skill's command: joint position limits,
  at most `velocity_scale` × the rated joint speed over the time the command holds, and a step
  shortened so the tool stays inside the workspace box. It runs the very same code: the gate
  *is* a `Robot` whose command is captured instead of sent.
- `CommandRamp` feeds a stream of targets through the gate with the joint acceleration bounded
  too (speeding up and slowing down for the target) and the command kept close to the
  measured position: a position-controlled joint handed a full-speed step from rest, or left
  behind its command, overshoots the speed while it catches up (the sim's wrist moved at 1.4×
  and 2× its limit); a ramped command close to the arm it follows within the limit.
- `SafetyGate.check_trajectory` makes a `JointTrajectory` safe for a real controller (the
  `safety_filter` node): positions clipped to the joint limits, any point whose tool lies
  outside the workspace refused, and segment times stretched so that no joint moves faster
  than its limit (velocities and accelerations dropped: the controller interpolates linearly).

Example:
    >>> import numpy as np
    >>> from embodied_mm.robots.kinematics import HOME
    >>> gate = SafetyGate()
    >>> step = gate.limit(HOME + 1.0, HOME, dt=0.01) - HOME   # a 1 rad jump asked for
    >>> bool(np.all(np.abs(step) <= gate.limits.joint_velocity * 0.5 * 0.01 + 1e-9))
    True
"""

from __future__ import annotations

import numpy as np

from embodied_mm.robots.base import WORKSPACE_TOLERANCE, Robot, RobotLimits
from embodied_mm.types import JointAction, Observation

MAX_ACCELERATION = 7.5  # rad/s², the Panda's lowest rated joint acceleration (joint 2)
# How far (in time at full speed) the command may run ahead of the measured position. The sim's
# joints are PD position-controlled (sim/world.py: gain 0.3 at 240 Hz), which asks a joint for
# 72 × its error in rad/s: a lead of 1/72 s asks for exactly the speed limit, and a joint left
# further behind (a heavy load, a contact) would make up for it faster. 16 ms lets the
# force-limited wrist reach its limit; random raw trajectories then peak at 1.04× it.
MAX_LEAD_S = 0.016


class UnsafeTrajectory(ValueError):
    """A trajectory the gate refuses as a whole; the text says which point and why."""


class _CapturingRobot(Robot):
    """`Robot.send_action`'s clipping with a given current position and period, no hardware."""

    def __init__(self, limits: RobotLimits) -> None:
        super().__init__(limits)
        self.current = np.zeros(7)
        self.sent: JointAction | None = None
        self.connect()

    def joint_positions(self) -> np.ndarray:
        return self.current

    def _observe(self, images: bool) -> Observation:
        raise NotImplementedError("the safety gate has no sensors")

    def _command(self, action: JointAction) -> None:
        self.sent = action

    def outside(self, joints: np.ndarray) -> bool:
        """Whether the tool at `joints` lies outside the workspace box."""
        return self._workspace_violation(joints) > WORKSPACE_TOLERANCE


class SafetyGate:
    """The limits every joint command must respect, whichever process sent it.

    Args:
        limits: the same `RobotLimits` the skills' `Robot` uses (defaults: the Panda's).
    """

    def __init__(self, limits: RobotLimits | None = None) -> None:
        self.limits = limits or RobotLimits()
        self._robot = _CapturingRobot(self.limits)

    @property
    def max_speed(self) -> np.ndarray:
        """Per-joint speed limit (rad/s) commands may use."""
        return self.limits.joint_velocity * self.limits.velocity_scale

    def limit(self, target: np.ndarray, previous: np.ndarray, dt: float) -> np.ndarray:
        """`target` clipped as `Robot.send_action` would from `previous` over `dt` seconds.

        Args:
            target: the joint positions asked for (7,).
            previous: the last command let through (7,): the speed limit is relative to it.
            dt: seconds the returned command will hold (> 0).
        """
        self._robot.current = np.asarray(previous, dtype=float)
        self._robot.control_hz = 1.0 / max(dt, 1e-6)
        return self._robot.send_action(JointAction(np.asarray(target, float), 0.0)
                                       ).joint_positions

    def check_trajectory(self, positions: np.ndarray, times: np.ndarray,
                         current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions, times) of a trajectory made safe, starting from `current`.

        Args:
            positions: (N, 7) joint positions of the points.
            times: (N,) seconds from the trajectory's start, not decreasing.
            current: (7,) the arm's measured position now.

        Raises:
            UnsafeTrajectory: a point holds NaN, or its tool lies outside the workspace box.
        """
        positions = np.asarray(positions, float)
        if positions.ndim != 2 or positions.shape[1] != 7 or not np.all(np.isfinite(positions)):
            raise UnsafeTrajectory("points must hold 7 finite joint positions each")
        clipped = np.clip(positions, self.limits.joint_lower, self.limits.joint_upper)
        for i, q in enumerate(clipped):
            if self._robot.outside(q):
                tool = self._robot.kinematics.forward(q)[0]
                raise UnsafeTrajectory(f"point {i}: tool at {np.round(tool, 3).tolist()} m "
                                       "lies outside the workspace box")
        retimed, previous = [], np.asarray(current, float)
        for q, t in zip(clipped, np.asarray(times, float)):
            slowest = float(np.max(np.abs(q - previous) / self.max_speed))  # s, this segment
            retimed.append(max((retimed[-1] if retimed else 0.0) + slowest, t))
            previous = q
        return clipped, np.asarray(retimed)


class CommandRamp:
    """A joint command that follows targets within the gate and `MAX_ACCELERATION`.

    Args:
        gate: the limits to respect.
        position: the command to start from (the measured position), (7,).
    """

    def __init__(self, gate: SafetyGate, position: np.ndarray) -> None:
        self.gate = gate
        self.reset(position)

    def reset(self, position: np.ndarray) -> None:
        """Holds `position`, at rest (a new scene, an e-stop: no ramping down)."""
        self.command = np.asarray(position, dtype=float).copy()
        self.velocity = np.zeros_like(self.command)

    def step(self, target: np.ndarray, dt: float, measured: np.ndarray) -> np.ndarray:
        """The next command, `dt` seconds after the last one, towards `target`, never more
        than `MAX_LEAD_S` at full speed ahead of the `measured` joint positions."""
        limits = self.gate.limits
        target = np.clip(np.asarray(target, float), limits.joint_lower, limits.joint_upper)
        allowed = self.gate.limit(target, self.command, dt)
        # Accelerate at most MAX_ACCELERATION, and no faster than lets it stop at the target.
        stopping = np.sqrt(2 * MAX_ACCELERATION * np.abs(target - self.command))
        change = MAX_ACCELERATION * dt
        velocity = np.clip((allowed - self.command) / dt, self.velocity - change,
                           self.velocity + change)
        velocity = np.clip(velocity, -stopping, stopping)
        command = self.gate.limit(self.command + velocity * dt, self.command, dt)
        lead = self.gate.max_speed * MAX_LEAD_S
        command = np.clip(command, measured - lead, measured + lead)
        self.velocity = (command - self.command) / dt
        self.command = command
        return command.copy()
