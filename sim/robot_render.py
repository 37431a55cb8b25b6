"""The robot alone, rendered from its URDF at given joint positions through any pinhole camera.

Perception's self-filter (`embodied_mm.perception.self_filter`) compares this depth with a
camera frame's to tell the robot's own pixels; it runs on hardware too (PyBullet as a
renderer only, in a private DIRECT client, about 10 ms at 320x240 with TinyRenderer). Any URDF
whose base is the robot base frame works: its revolute joints take the arm joint positions in
URDF order, its prismatic (finger) joints half the gripper width.

Example (the arm at home seen from 2 m in front of it, along -x):
    >>> import numpy as np
    >>> from embodied_mm.perception.geometry import CameraModel, look_at
    >>> camera = CameraModel(64, 48, [[50, 0, 32], [0, 50, 23], [0, 0, 1]],
    ...                      look_at((2.0, 0.0, 0.5), (0.0, 0.0, 0.5), (0, 0, 1)))
    >>> with RobotRenderer() as renderer:
    ...     depth = renderer.depth(camera, [0, -0.4, 0, -2.3, 0, 1.9, 0.785], 0.08)
    >>> 1.5 < float(depth[np.isfinite(depth)].min()) < 2.0
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embodied_mm.perception.geometry import CameraModel
from sim.bullet import p
from sim.world import PANDA_URDF

NEAR, FAR = 0.05, 4.0  # m: the render's clipping planes


def gl_matrices(camera: CameraModel, near: float = NEAR, far: float = FAR
                ) -> tuple[list[float], list[float]]:
    """PyBullet's (view, projection) matrices, column-major, that render `camera`'s image:
    the optical frame's pose and the pinhole K, TinyRenderer's pixel convention included (see
    `geometry.pybullet_intrinsics`)."""
    view = np.diag([1.0, -1.0, -1.0, 1.0]) @ np.linalg.inv(camera.cam_to_world)
    k, w, h = camera.K, camera.width, camera.height
    proj = np.zeros((4, 4))
    proj[0, 0] = 2 * k[0, 0] / w
    proj[0, 2] = -2 * (k[0, 2] - w / 2) / w
    proj[1, 1] = 2 * k[1, 1] / h
    proj[1, 2] = 2 * (k[1, 2] - h / 2 + 1) / h
    proj[2, 2] = -(far + near) / (far - near)
    proj[2, 3] = -2 * far * near / (far - near)
    proj[3, 2] = -1.0
    return view.T.flatten().tolist(), proj.T.flatten().tolist()


class RobotRenderer:
    """Depth images of one robot and nothing else.

    Args:
        urdf: the robot's URDF; the sim's Panda (`sim/assets/franka_panda/panda.urdf`) if None.
    """

    def __init__(self, urdf: str | Path | None = None) -> None:
        self.urdf = Path(urdf) if urdf else PANDA_URDF
        if not self.urdf.is_file():
            raise FileNotFoundError(f"robot URDF {self.urdf} not found")
        self._client = p.connect(p.DIRECT)
        self._robot = p.loadURDF(str(self.urdf), [0, 0, 0], useFixedBase=True,
                                 physicsClientId=self._client)
        kinds = [p.getJointInfo(self._robot, j, physicsClientId=self._client)[2]
                 for j in range(p.getNumJoints(self._robot, physicsClientId=self._client))]
        self._arm = [j for j, kind in enumerate(kinds) if kind == p.JOINT_REVOLUTE]
        self._fingers = [j for j, kind in enumerate(kinds) if kind == p.JOINT_PRISMATIC]

    def depth(self, camera: CameraModel, joints: Sequence[float], gripper_width: float
              ) -> np.ndarray:
        """(H, W) float32 eye-space depth of the robot alone, m; +inf where it is not."""
        c = self._client
        if len(joints) != len(self._arm):
            raise ValueError(f"{self.urdf.name} has {len(self._arm)} revolute joints, got "
                             f"{len(joints)} joint positions")
        for j, q in zip(self._arm, joints):
            p.resetJointState(self._robot, j, float(q), physicsClientId=c)
        for j in self._fingers:
            p.resetJointState(self._robot, j, float(gripper_width) / 2, physicsClientId=c)
        view, proj = gl_matrices(camera)
        _, _, _, zbuf, _ = p.getCameraImage(camera.width, camera.height, view, proj,
                                            renderer=p.ER_TINY_RENDERER,
                                            flags=p.ER_NO_SEGMENTATION_MASK, physicsClientId=c)
        zbuf = np.asarray(zbuf, dtype=np.float32).reshape(camera.height, camera.width)
        depth = FAR * NEAR / (FAR - (FAR - NEAR) * zbuf)
        return np.where(zbuf < 1.0, depth, np.inf).astype(np.float32)

    def close(self) -> None:
        """Disconnects the private physics client."""
        if self._client is not None:
            p.disconnect(physicsClientId=self._client)
            self._client = None

    def __enter__(self) -> RobotRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
