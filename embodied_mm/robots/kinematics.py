"""Franka Panda forward and inverse kinematics in numpy, shared by the sim and real robots.

The chain mirrors `franka_panda/panda.urdf` joint by joint (origin xyz + rpy, then a rotation
about z by the joint angle), ending at the grasp target between the fingertips. IK is damped
least squares on position and a top-down orientation with a given yaw, seeded from the current
joints, so consecutive targets give smooth joint motion. No simulator is needed, so the same
IK drives PyBullet and hardware.

Example:
    >>> import numpy as np
    >>> from embodied_mm.robots.kinematics import PandaKinematics
    >>> kin = PandaKinematics()
    >>> pos, rot = kin.forward(kin.home)
    >>> q = kin.inverse(pos + [0.0, 0.05, 0.0], yaw=0.0, seed=kin.home)
"""

from __future__ import annotations

import numpy as np

# (xyz, rpy) of each arm joint's origin in its parent link, from panda.urdf.
_JOINT_ORIGINS: tuple[tuple[tuple[float, float, float], tuple[float, float, float]], ...] = (
    ((0.0, 0.0, 0.333), (0.0, 0.0, 0.0)),
    ((0.0, 0.0, 0.0), (-np.pi / 2, 0.0, 0.0)),
    ((0.0, -0.316, 0.0), (np.pi / 2, 0.0, 0.0)),
    ((0.0825, 0.0, 0.0), (np.pi / 2, 0.0, 0.0)),
    ((-0.0825, 0.384, 0.0), (-np.pi / 2, 0.0, 0.0)),
    ((0.0, 0.0, 0.0), (np.pi / 2, 0.0, 0.0)),
    ((0.088, 0.0, 0.0), (np.pi / 2, 0.0, 0.0)),
)
_FLANGE_Z = 0.107  # link7 -> link8
_HAND_YAW = -np.pi / 4  # link8 -> panda_hand
_TCP_Z = 0.105  # panda_hand -> panda_grasptarget

JOINT_LOWER = np.array([-2.9671, -1.8326, -2.9671, -3.1416, -2.9671, -0.0873, -2.9671])
JOINT_UPPER = np.array([2.9671, 1.8326, 2.9671, 0.0, 2.9671, 3.8223, 2.9671])
JOINT_VELOCITY = np.array([2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61])  # rad/s
HOME = np.array([0.0, -0.4, 0.0, -2.3, 0.0, 1.9, np.pi / 4])


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _transform(rot: np.ndarray, xyz) -> np.ndarray:
    t = np.eye(4)
    t[:3, :3] = rot
    t[:3, 3] = xyz
    return t


# Fixed parts of the chain, precomputed once (the URDF's rpy here only ever rotates about x).
_ORIGINS = [_transform(_rot_x(rpy[0]), xyz) for xyz, rpy in _JOINT_ORIGINS]
_TOOL = _transform(np.eye(3), (0, 0, _FLANGE_Z)) @ _transform(_rot_z(_HAND_YAW), (0, 0, 0))
_TOOL = _TOOL @ _transform(np.eye(3), (0, 0, _TCP_Z))


def top_down_rotation(yaw: float) -> np.ndarray:
    """Tool orientation pointing straight down with the fingers' closing axis at `yaw`."""
    # Tool z points down (-z world); tool x along the world direction at `yaw`.
    return _rot_z(yaw) @ np.diag([1.0, -1.0, -1.0])


def rotation_to_quaternion(rot: np.ndarray) -> np.ndarray:
    """3×3 rotation matrix -> quaternion xyzw."""
    m = rot
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
    return np.asarray(q)


def quaternion_matrix(q: np.ndarray) -> np.ndarray:
    """(3, 3) rotation of a unit quaternion (x, y, z, w)."""
    x, y, z, w = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def yaw_of(rot: np.ndarray) -> float:
    """Yaw of a top-down tool orientation (inverse of `top_down_rotation`)."""
    return float(np.arctan2(rot[1, 0], rot[0, 0]))


class PandaKinematics:
    """Forward/inverse kinematics of the Panda arm to its grasp target (tool centre point)."""

    home = HOME
    lower = JOINT_LOWER
    upper = JOINT_UPPER

    def forward(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tool centre point position (3,) and rotation (3, 3) for joint angles q (7,)."""
        t = self._chain(q)[-1] @ _TOOL
        return t[:3, 3].copy(), t[:3, :3].copy()

    def _chain(self, q: np.ndarray) -> list[np.ndarray]:
        frames, t = [], np.eye(4)
        for origin, angle in zip(_ORIGINS, q):
            t = t @ origin @ _transform(_rot_z(angle), (0, 0, 0))
            frames.append(t)
        return frames

    def jacobian(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Geometric Jacobian (6, 7) of the tool centre point, plus its position and rotation."""
        frames = self._chain(q)
        tool = frames[-1] @ _TOOL
        p = tool[:3, 3]
        axes = np.array([f[:3, 2] for f in frames])  # (7, 3) joint z axes
        lever = p - np.array([f[:3, 3] for f in frames])  # (7, 3) joint origin -> tool
        linear = np.stack([axes[:, 1] * lever[:, 2] - axes[:, 2] * lever[:, 1],
                           axes[:, 2] * lever[:, 0] - axes[:, 0] * lever[:, 2],
                           axes[:, 0] * lever[:, 1] - axes[:, 1] * lever[:, 0]])
        jac = np.vstack([linear, axes.T])  # (6, 7)
        return jac, p.copy(), tool[:3, :3].copy()

    def inverse(
        self,
        position: np.ndarray,
        yaw: float,
        seed: np.ndarray,
        iterations: int = 60,
        tolerance: float = 5e-4,
    ) -> np.ndarray:
        """Joint angles placing the tool centre point at `position`, pointing down at `yaw`.

        Damped least squares from `seed`, with a weak pull towards the home posture in the
        null space so the elbow stays up. Returns the best joints found (within joint limits)
        even when the target is out of reach; callers check the residual with `forward`.
        """
        q = self._solve(position, yaw, seed, iterations, tolerance)
        if np.linalg.norm(self.forward(q)[0] - position) > 10 * tolerance:
            # Stuck in a local minimum (a joint at its limit): retry from the home posture.
            from_home = self._solve(position, yaw, self.home, iterations, tolerance)
            if np.linalg.norm(self.forward(from_home)[0] - position) < np.linalg.norm(
                    self.forward(q)[0] - position):
                q = from_home
        return q

    def _solve(self, position, yaw, seed, iterations, tolerance) -> np.ndarray:
        target_rot = top_down_rotation(yaw)
        q = np.clip(np.asarray(seed, dtype=float).copy(), self.lower, self.upper)
        damping = 1e-3
        for _ in range(iterations):
            jac, p, rot = self.jacobian(q)
            err_pos = np.asarray(position) - p
            # Orientation error as a rotation vector (small-angle form of R_target R^T).
            r_err = target_rot @ rot.T
            err_rot = 0.5 * np.array([r_err[2, 1] - r_err[1, 2], r_err[0, 2] - r_err[2, 0],
                                      r_err[1, 0] - r_err[0, 1]])
            # Clamp the task-space step: DLS converges more reliably in short hops.
            step_pos = err_pos * min(1.0, 0.05 / max(np.linalg.norm(err_pos), 1e-9))
            err = np.concatenate([step_pos, err_rot])
            if np.linalg.norm(err_pos) < tolerance and np.linalg.norm(err_rot) < 10 * tolerance:
                break
            jac_pinv = jac.T @ np.linalg.inv(jac @ jac.T + damping * np.eye(6))
            null = (np.eye(7) - jac_pinv @ jac) @ (0.05 * (self.home - q))
            q = np.clip(q + jac_pinv @ err + null, self.lower, self.upper)
        return q
