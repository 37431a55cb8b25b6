"""Skill policies: closed-loop controllers that carry out one plan step through a `Robot`.

A skill is written as a script, a generator that yields motion targets (`Move`, `Grip`) and
reads `self.obs`, which the base class refreshes at every control tick. That keeps the logic of
a skill in the order a person would describe it (go above, descend, close, lift, check) while
the base class handles interpolation, settling, timeouts and status.

Example:
    >>> skill = SKILLS["pick"](control_hz=20)  # doctest: +SKIP
    >>> skill.reset(obs, SkillCall("pick", ("obj_2",)))  # doctest: +SKIP
    >>> while skill.status is SkillStatus.RUNNING:  # doctest: +SKIP
    ...     obs = robot.get_observation(images=False); robot.send_action(skill.step(obs))
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from embodied_mm.robots.kinematics import yaw_of
from embodied_mm.scene import gripper_closed_on_something, held_block
from embodied_mm.types import EndEffectorAction, ObjectState, Observation, SkillCall

GRIPPER_OPEN = 0.08  # m
GRIPPER_CLOSED = 0.0  # m, commanded; the fingers stop on the object
HOVER_Z = 0.16  # m, tool height for moving above the scene


class SkillStatus(enum.Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Move:
    """Move the tool in a straight line to `position` (yaw, gripper held) at `speed` m/s."""

    position: np.ndarray
    yaw: float
    gripper: float
    speed: float = 0.3
    tolerance: float = 0.01  # m, measured position error that counts as arrived


@dataclass(frozen=True)
class Observe:
    """Hold still until the objects have been observed after this moment (perception lag),
    so checks that follow read the world as the motion left it."""

    timeout_s: float = 2.0


@dataclass(frozen=True)
class Grip:
    """Hold the tool still and open/close the gripper until the fingers stop."""

    gripper: float


class SkillFailure(Exception):
    """Raised inside a skill script to end the skill as failed with a reason."""


class Skill(abc.ABC):
    """Base class: drives a script of `Move`/`Grip` targets, tracks status and timeout.

    Args:
        control_hz: rate at which `step` is called.
        timeout_s: the skill fails if it has not finished within this time.
    """

    # After the interpolated target arrives, the tool may take its time to catch up as long as
    # it keeps closing in: the move fails once the error has not shrunk by `progress_m` for
    # `settle_s`. An arm that lags its commands (a heavy load, a simulator starved of CPU)
    # still arrives; one that is blocked stops improving and fails.
    settle_s = 1.5
    progress_m = 0.002

    def __init__(self, control_hz: float = 20.0, timeout_s: float = 25.0) -> None:
        self.dt = 1.0 / control_hz
        self.timeout_s = timeout_s
        self.status = SkillStatus.RUNNING
        self.reason = ""
        self.call: SkillCall | None = None
        self.obs: Observation | None = None

    # -- interface -----------------------------------------------------------------------------
    def reset(self, obs: Observation, call: SkillCall) -> None:
        """Starts the skill for `call` from observation `obs`."""
        self.obs, self.call = obs, call
        self.status, self.reason = SkillStatus.RUNNING, ""
        self._start = obs.stamp
        # Commanded state: interpolation point ("carrot"), yaw and gripper opening.
        self._carrot = obs.ee_pose[:3].copy()
        self._yaw = yaw_of(_rotation(obs))
        self._gripper = obs.gripper_width
        self._script = self.script(*call.args)
        self._advance()

    def step(self, obs: Observation) -> EndEffectorAction:
        """One control tick: returns the command for this tick (a hold once finished)."""
        self.obs = obs
        if self.status is SkillStatus.RUNNING and obs.stamp - self._start > self.timeout_s:
            self._finish(SkillStatus.FAILED, f"timed out after {self.timeout_s:.0f} s")
        if self.status is SkillStatus.RUNNING and self._target_reached():
            self._advance()
        return self._command()

    @abc.abstractmethod
    def script(self, *args: str) -> Generator[Move | Grip | Observe, None, None]:
        """Yields targets in order; raise SkillFailure to fail; return to succeed."""

    # -- helpers for scripts -------------------------------------------------------------------
    @property
    def tool_position(self) -> np.ndarray:
        return self.obs.ee_pose[:3]

    def holding(self) -> bool:
        """True when the gripper is closed on something."""
        return gripper_closed_on_something(self.obs)

    def held_object(self) -> ObjectState | None:
        return held_block(self.obs)

    def block(self, name: str) -> ObjectState:
        obj = self.obs.object(name)
        if obj.kind != "block":
            raise SkillFailure(f"{name} is a {obj.kind}; only blocks can be moved")
        return obj

    # -- machinery -----------------------------------------------------------------------------
    def _advance(self) -> None:
        try:
            self._target: Move | Grip | Observe | None = next(self._script)
        except StopIteration:
            self._finish(SkillStatus.SUCCEEDED, "")
            return
        except (SkillFailure, KeyError) as err:
            self._finish(SkillStatus.FAILED, str(err).strip("'\""))
            return
        self._target_start = self.obs.stamp
        self._last_width: float | None = None
        self._last_progress = 0.0  # when the error last shrank by progress_m
        self._closest: float = np.inf  # smallest error seen since the carrot arrived

    def _finish(self, status: SkillStatus, reason: str) -> None:
        """Ends the skill; from now on it holds the tool where it is, gripper unchanged."""
        self.status, self.reason = status, reason
        self._carrot = self.tool_position.copy()
        self._target = None

    def _target_reached(self) -> bool:
        if isinstance(self._target, Observe):
            if self.obs.objects_seen_at >= self._target_start:
                return True
            if self.obs.stamp - self._target_start > self._target.timeout_s:
                self._finish(SkillStatus.FAILED, "no fresh observation of the scene "
                             f"within {self._target.timeout_s:.1f} s")
            return False
        if isinstance(self._target, Grip):
            width = self.obs.gripper_width
            still = self._last_width is not None and abs(width - self._last_width) < 2e-4
            self._last_width = width
            elapsed = self.obs.stamp - self._target_start
            return (still and elapsed > 0.2) or elapsed > 1.5
        target = self._target
        if not np.allclose(self._carrot, target.position):
            return False
        error = np.linalg.norm(self.tool_position - target.position)
        if error < target.tolerance:
            return True
        if error < self._closest - self.progress_m:  # still closing in: the wait starts again
            self._closest, self._last_progress = error, self.obs.stamp
        if self.obs.stamp - self._last_progress > self.settle_s:
            where = np.round(target.position, 3).tolist()
            self._finish(SkillStatus.FAILED, f"could not reach {where} (off by {error:.3f} m)")
        return False

    def _command(self) -> EndEffectorAction:
        target = self._target
        if isinstance(target, Grip):
            self._gripper = target.gripper
        elif isinstance(target, Move):
            # Advance the carrot towards the target at the move's speed.
            delta = target.position - self._carrot
            dist = np.linalg.norm(delta)
            max_step = target.speed * self.dt
            self._carrot = target.position.copy() if dist <= max_step else (
                self._carrot + delta * (max_step / dist))
            self._yaw, self._gripper = target.yaw, target.gripper
        return EndEffectorAction(self._carrot.copy(), self._yaw, self._gripper)


def _rotation(obs: Observation) -> np.ndarray:
    """Tool rotation matrix from the observation's quaternion (xyzw)."""
    x, y, z, w = obs.ee_pose[3:7]
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def grasp_yaw(obj: ObjectState, current_yaw: float) -> float:
    """Yaw aligning the fingers with a cube's faces, the one of the 4 symmetric choices nearest
    the current yaw (so the wrist turns as little as possible)."""
    x, y, z, w = obj.orientation
    block_yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    candidates = block_yaw + np.arange(-4, 5) * (np.pi / 2)
    candidates = candidates[np.abs(candidates) <= np.pi * 0.75]
    return float(candidates[np.argmin(np.abs(candidates - current_yaw))])
