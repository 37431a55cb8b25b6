"""One object's pose and size from its pixels' 3D points, robust to the oblique view.

Blocks: the top is the highest points, the edge the visible height; across the line of sight
the centre is the middle of the extent, along it the centre lies half an edge beyond the
nearest point (the face towards the camera is always visible, the far half may be hidden
under the gripper). Yaw from the top face's minimum-area rectangle. Bowls: the middle of the
points' extent and the rim height.

Example:
    >>> import numpy as np
    >>> pts = np.random.default_rng(0).uniform([0.48, -0.02, 0], [0.52, 0.02, 0.04], (500, 3))
    >>> est = estimate("block", pts, camera_xy=np.array([1.15, 0.0]))
    >>> bool(np.allclose(est.position, [0.5, 0, 0.02], atol=0.005))
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

TOP_BAND = 0.006  # m: points this close below the highest one form the top face


@dataclass(frozen=True)
class Estimate:
    position: np.ndarray  # (3,) box centre, m
    size: np.ndarray  # (3,) m
    yaw: float  # rad, in [-pi/4, pi/4) for blocks (a cube's yaw is defined modulo 90°)

    @property
    def orientation(self) -> np.ndarray:
        return np.array([0.0, 0.0, np.sin(self.yaw / 2), np.cos(self.yaw / 2)])


def estimate(kind: str, points: np.ndarray, camera_xy: np.ndarray,
             known_sizes: Sequence[float] = (), known_size: Sequence[float] | None = None
             ) -> Estimate:
    """Pose and size of one object from its world points (M, 3).

    Args:
        kind: `block` or `bowl`.
        camera_xy: the camera's position on the table plane (for the line of sight).
        known_sizes: block edges that exist (snap the measured edge to the nearest).
        known_size: the object's exact (3,) size when known (sim ground truth).
    """
    lo, hi = np.percentile(points, 2, axis=0), np.percentile(points, 98, axis=0)
    top = hi[2]
    if kind == "bowl":
        size = np.asarray(known_size, float) if known_size is not None else np.array(
            [hi[0] - lo[0], hi[1] - lo[1], top])
        center = (lo[:2] + hi[:2]) / 2
        return Estimate(np.array([*center, top - size[2] / 2]), size, 0.0)
    edge = float(known_size[2]) if known_size is not None else max(top - max(lo[2], 0.0), 0.01)
    if known_size is None and known_sizes:
        edge = float(min(known_sizes, key=lambda s: abs(s - edge)))
    yaw = _top_face_yaw(points, top)
    # Line of sight on the table plane, from the camera towards the object.
    middle = (lo[:2] + hi[:2]) / 2
    sight = middle - camera_xy
    sight /= max(np.linalg.norm(sight), 1e-9)
    across = np.array([-sight[1], sight[0]])
    along = points[:, :2] @ sight
    # Nearest point along the sight line: a vertical edge (or the front face) of the cube,
    # half the cube's extent along the sight direction before its centre.
    half_extent = edge / 2 * (abs(np.cos(yaw - np.arctan2(sight[1], sight[0]))) +
                              abs(np.sin(yaw - np.arctan2(sight[1], sight[0]))))
    center_along = np.percentile(along, 2) + half_extent
    center_across = (np.percentile(points[:, :2] @ across, 2) +
                     np.percentile(points[:, :2] @ across, 98)) / 2
    center = center_along * sight + center_across * across
    return Estimate(np.array([*center, top - edge / 2]), np.full(3, edge), yaw)


def _top_face_yaw(points: np.ndarray, top: float) -> float:
    face = points[points[:, 2] > top - TOP_BAND][:, :2]
    if len(face) < 12:
        return 0.0
    (_, _), (_, _), angle = cv2.minAreaRect((face * 1000).astype(np.float32))
    yaw = np.deg2rad(angle)
    return float((yaw + np.pi / 4) % (np.pi / 2) - np.pi / 4)
