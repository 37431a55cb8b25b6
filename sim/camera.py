"""The fixed RGB-D camera: intrinsics, pose, and rendering with segmentation.

Depth comes back in metres (linearised from the OpenGL z-buffer); segmentation holds PyBullet
body ids (-1 for background).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embodied_mm.perception.geometry import pybullet_intrinsics
from sim.bullet import p


@dataclass(frozen=True)
class CameraConfig:
    """Pinhole camera looking at the table from the far side, above and in front of the robot."""

    width: int = 320
    height: int = 240
    fov_deg: float = 55.0  # vertical field of view
    eye: tuple[float, float, float] = (1.15, 0.0, 0.75)
    target: tuple[float, float, float] = (0.5, 0.0, 0.0)
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)
    near: float = 0.05
    far: float = 3.0

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"camera size must be positive, got {self.width}x{self.height}")

    @property
    def intrinsics(self) -> np.ndarray:
        """(3, 3) pinhole matrix K in the ROS pixel convention (TinyRenderer's cy is H/2 - 1)."""
        return pybullet_intrinsics(self.width, self.height, self.fov_deg)


class Camera:
    """Renders one client's world from a fixed pose."""

    def __init__(self, config: CameraConfig, client: int) -> None:
        self.config = config
        self._client = client
        self._view = p.computeViewMatrix(config.eye, config.target, config.up)
        self._proj = p.computeProjectionMatrixFOV(
            config.fov_deg, config.width / config.height, config.near, config.far)

    @property
    def view_matrix(self) -> np.ndarray:
        """(4, 4) world -> OpenGL camera transform."""
        return np.asarray(self._view).reshape(4, 4).T

    def render(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Returns rgb (H, W, 3) uint8, depth (H, W) float32 m, segmentation (H, W) int32."""
        c = self.config
        _, _, rgba, zbuf, seg = p.getCameraImage(
            c.width, c.height, self._view, self._proj, renderer=p.ER_TINY_RENDERER,
            physicsClientId=self._client)
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(c.height, c.width, 4)[..., :3]
        zbuf = np.asarray(zbuf, dtype=np.float32).reshape(c.height, c.width)
        depth = c.far * c.near / (c.far - (c.far - c.near) * zbuf)
        seg = np.asarray(seg, dtype=np.int32).reshape(c.height, c.width)
        return rgb, depth.astype(np.float32), seg
