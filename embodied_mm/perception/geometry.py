"""Pinhole camera geometry: depth pixels → points in the robot base frame.

The camera's pose is given like the sim's (`eye`, look-at `target`, `up`); the optical frame is
x right, y down, z forward, and depth is the distance along z (what PyBullet's linearised
z-buffer and RGB-D cameras give).

Example:
    >>> import numpy as np
    >>> K = np.array([[230.0, 0, 160], [0, 230.0, 120], [0, 0, 1]])
    >>> cam = CameraModel.from_camera_info(K, 320, 240, (1.15, 0, 0.75), (0.5, 0, 0), (0, 0, 1))
    >>> cam.points(np.ones((240, 320), np.float32)).shape
    (76800, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CameraModel:
    """Intrinsics `K` (3, 3), image size, and `cam_to_world` (4, 4) for the optical frame."""

    K: np.ndarray
    width: int
    height: int
    cam_to_world: np.ndarray

    @classmethod
    def from_camera_info(cls, K: np.ndarray, width: int, height: int, eye: Sequence[float],
                         target: Sequence[float], up: Sequence[float]) -> CameraModel:
        eye, target, up = (np.asarray(v, dtype=float) for v in (eye, target, up))
        forward = target - eye
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, up)
        if np.linalg.norm(right) < 1e-9:
            raise ValueError("camera up vector is parallel to the viewing direction")
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        pose = np.eye(4)
        pose[:3, :3] = np.stack([right, down, forward], axis=1)
        pose[:3, 3] = eye
        return cls(np.asarray(K, dtype=float), int(width), int(height), pose)

    def points(self, depth: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """World points (M, 3) of the pixels in `mask` (all pixels if None) with valid depth."""
        if depth.shape != (self.height, self.width):
            raise ValueError(f"depth is {depth.shape[1]}x{depth.shape[0]}, camera is "
                             f"{self.width}x{self.height}")
        v, u = np.nonzero(mask) if mask is not None else np.indices(depth.shape).reshape(2, -1)
        z = depth[v, u].astype(float)
        keep = np.isfinite(z) & (z > 0)
        u, v, z = u[keep], v[keep], z[keep]
        fx, fy, cx, cy = self.K[0, 0], self.K[1, 1], self.K[0, 2], self.K[1, 2]
        cam = np.stack([(u + 0.5 - cx) / fx * z, (v + 0.5 - cy) / fy * z, z], axis=1)
        return cam @ self.cam_to_world[:3, :3].T + self.cam_to_world[:3, 3]

    @property
    def position(self) -> np.ndarray:
        return self.cam_to_world[:3, 3]
