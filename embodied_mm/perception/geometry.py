"""Pinhole camera model: back-projects depth pixels to 3-D points in the world (robot base) frame.

Pixel convention is ROS `CameraInfo`'s: pixel (u, v) = (column, row) has its centre at integer
coordinates, row 0 at the top; the optical frame has x right, y down, z forward. Depth is the
distance along the optical axis (the eye-space z), in metres, as an RGB-D driver publishes it
and as `sim.camera` linearises PyBullet's z-buffer. Pixels with depth <= 0 or non-finite give
NaN points. Images from PyBullet's TinyRenderer follow this convention with the matrix from
`pybullet_intrinsics` (cy = H/2 - 1, not H/2: checked on the sim's table plane, which then
back-projects to z = 0 within 0.01 mm, against 2.7 mm at 320x240 with cy = H/2).

Example:
    >>> import numpy as np
    >>> from embodied_mm.perception.geometry import from_camera_info, pybullet_intrinsics
    >>> K = pybullet_intrinsics(320, 240, fov_deg=55.0)
    >>> cam = from_camera_info(K, 320, 240, eye=(1.15, 0, 0.75), target=(0.5, 0, 0), up=(0, 0, 1))
    >>> cam.back_project(np.full((240, 320), 0.9, np.float32)).shape  # world xyz per pixel
    (240, 320, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np


def pybullet_intrinsics(width: int, height: int, fov_deg: float) -> np.ndarray:
    """(3, 3) K, in the ROS pixel convention, of an image rendered by PyBullet's TinyRenderer
    through `computeProjectionMatrixFOV(fov_deg, width / height, ...)` (vertical field of view).
    TinyRenderer samples pixel corners and flips rows, hence cx = W/2 and cy = H/2 - 1."""
    f = height / (2 * np.tan(np.deg2rad(fov_deg) / 2))
    return np.array([[f, 0.0, width / 2], [0.0, f, height / 2 - 1], [0.0, 0.0, 1.0]])


def look_at(eye: Sequence[float], target: Sequence[float], up: Sequence[float]) -> np.ndarray:
    """(4, 4) camera-to-world transform of an optical frame at `eye` looking at `target`.

    Same pose as OpenGL's / PyBullet's `computeViewMatrix(eye, target, up)`: the image's up
    direction is the projection of `up`.
    """
    eye, target, up = (np.asarray(v, dtype=float) for v in (eye, target, up))
    z = target - eye  # optical axis
    if np.linalg.norm(z) < 1e-9:
        raise ValueError("camera eye and target coincide")
    z /= np.linalg.norm(z)
    x = np.cross(z, up)  # image right
    if np.linalg.norm(x) < 1e-9:
        raise ValueError(f"camera up {up.tolist()} is parallel to the viewing direction")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)  # image down
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, y, z], axis=1)
    pose[:3, 3] = eye
    return pose


@dataclass(frozen=True, eq=False)
class CameraModel:
    """Intrinsics and pose of one RGB-D camera.

    Attributes:
        width: image width, pixels.
        height: image height, pixels.
        K: (3, 3) pinhole matrix [[fx, 0, cx], [0, fy, cy], [0, 0, 1]], pixels.
        cam_to_world: (4, 4) transform from the optical frame (x right, y down, z forward) to
            the world frame.
    """

    width: int
    height: int
    K: np.ndarray
    cam_to_world: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "K", np.asarray(self.K, dtype=float).reshape(3, 3))
        object.__setattr__(self, "cam_to_world", np.asarray(self.cam_to_world, float))
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"camera size must be positive, got {self.width}x{self.height}")
        if self.cam_to_world.shape != (4, 4):
            raise ValueError(f"cam_to_world must be 4x4, got {self.cam_to_world.shape}")

    @classmethod
    def from_camera_info(cls, K: Sequence[float] | np.ndarray, width: int, height: int,
                         eye: Sequence[float], target: Sequence[float],
                         up: Sequence[float] = (0.0, 0.0, 1.0)) -> CameraModel:
        """A camera from `CameraInfo`-style intrinsics (`k`: 9 numbers or 3x3) and a look-at
        pose (`eye`, `target`, `up` as in `sim.camera.CameraConfig`)."""
        return cls(int(width), int(height), np.asarray(K, float).reshape(3, 3),
                   look_at(eye, target, up))

    @property
    def eye(self) -> np.ndarray:
        """(3,) camera centre in the world frame."""
        return self.cam_to_world[:3, 3]

    @cached_property
    def rays(self) -> np.ndarray:
        """(H, W, 3) optical-frame direction of every pixel, scaled so that z = 1."""
        u, v = np.meshgrid(np.arange(self.width), np.arange(self.height))
        fx, fy, cx, cy = self.K[0, 0], self.K[1, 1], self.K[0, 2], self.K[1, 2]
        x = (u - cx) / fx - self.K[0, 1] * (v - cy) / (fx * fy)  # skew is almost always 0
        return np.stack([x, (v - cy) / fy, np.ones_like(x)], axis=-1)

    def back_project(self, depth: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """World points of depth pixels.

        Args:
            depth: (H, W) eye-space z, metres.
            mask: optional (H, W) bool; only those pixels are back-projected.

        Returns:
            (H, W, 3) world xyz, or (N, 3) for the N masked pixels in row-major order; NaN
            where the depth is invalid.
        """
        depth = np.asarray(depth, dtype=float)
        if depth.shape != (self.height, self.width):
            raise ValueError(f"depth is {depth.shape}, camera is {self.height}x{self.width}")
        rays = self._world_rays
        if mask is not None:
            rays, depth = rays[mask], depth[mask]
        z = np.where(np.isfinite(depth) & (depth > 0), depth, np.nan)
        return rays * z[..., None] + self.cam_to_world[:3, 3]

    @cached_property
    def _world_rays(self) -> np.ndarray:
        """`rays` turned into the world frame (a point is then its ray × depth + the eye)."""
        return self.rays @ self.cam_to_world[:3, :3].T

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) pixel coordinates (u, v) of (N, 3) world points (in front of the camera)."""
        world_to_cam = np.linalg.inv(self.cam_to_world)
        cam = np.asarray(points, float) @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
        uvw = cam @ self.K.T
        return uvw[:, :2] / uvw[:, 2:3]

    def pixel_size(self, depth: np.ndarray | float) -> np.ndarray | float:
        """Metres one pixel spans, perpendicular to the optical axis, at eye-space `depth`."""
        return np.asarray(depth) / np.sqrt(self.K[0, 0] * self.K[1, 1])


def view_blocked(camera: CameraModel, depth: np.ndarray, points: np.ndarray,
                 margin: float = 0.03, window: int = 2) -> np.ndarray:
    """Whether something stands between the camera and each world point: around the point's
    pixel ((2 `window` + 1)² pixels, median) the depth reads nearer than the point by more
    than `margin` m. A point outside the image or without depth readings there is not blocked.

    Args:
        camera: the camera that took `depth`.
        depth: (H, W) eye-space depth, m (NaN or <= 0: no reading).
        points: (N, 3) world points.

    Returns:
        (N,) bool.
    """
    points = np.asarray(points, float).reshape(-1, 3)
    world_to_cam = np.linalg.inv(camera.cam_to_world)
    z = points @ world_to_cam[2, :3] + world_to_cam[2, 3]
    uv = np.round(camera.project(points)).astype(int)
    depth = np.where(np.asarray(depth, float) > 0, depth, np.nan)
    blocked = np.zeros(len(points), bool)
    for i, ((u, v), expected) in enumerate(zip(uv, z)):
        if expected <= 0 or not (0 <= u < camera.width and 0 <= v < camera.height):
            continue
        patch = depth[max(v - window, 0):v + window + 1, max(u - window, 0):u + window + 1]
        if np.isfinite(patch).any():
            blocked[i] = float(np.nanmedian(patch)) < expected - margin
    return blocked


def from_camera_info(K: Sequence[float] | np.ndarray, width: int, height: int,
                     eye: Sequence[float], target: Sequence[float],
                     up: Sequence[float] = (0.0, 0.0, 1.0)) -> CameraModel:
    """Same as `CameraModel.from_camera_info`."""
    return CameraModel.from_camera_info(K, width, height, eye, target, up)


def surface_normals(points: np.ndarray, labels: np.ndarray | None = None,
                    max_step: float = 0.01) -> np.ndarray:
    """Unit surface normals of an organised point image, pointing towards the camera.

    Args:
        points: (H, W, 3) back-projected points.
        labels: optional (H, W) ints (object ids, colour labels); normals are computed only
            where the pixel and its right and lower neighbours share a label >= 0, so none
            straddles two objects or an object's outline (and the rest costs nothing).
        max_step: m; a neighbour farther than this is across a depth edge.

    Returns:
        (H, W, 3) normals, NaN where unknown.
    """
    normals = np.full(points.shape, np.nan)
    if labels is None:
        keep = np.ones((points.shape[0] - 1, points.shape[1] - 1), bool)
    else:
        here = labels[:-1, :-1]
        keep = (here >= 0) & (here == labels[:-1, 1:]) & (here == labels[1:, :-1])
    v, u = np.nonzero(keep)
    right = points[v, u + 1] - points[v, u]
    down = points[v + 1, u] - points[v, u]
    # down x right points from the surface towards an optical-frame camera (x right, y down,
    # z forward); rotations keep cross products, so this holds in the world frame too.
    normal = np.cross(down, right)
    length = np.sqrt((normal**2).sum(axis=1))
    with np.errstate(invalid="ignore"):
        step = np.maximum((right**2).sum(axis=1), (down**2).sum(axis=1))
        ok = (step < max_step**2) & (length > 0)
    normals[v[ok], u[ok]] = normal[ok] / length[ok, None]
    return normals


def indices_by_label(labels: np.ndarray) -> dict[int, np.ndarray]:
    """Flat indices of the pixels (or points) of each label >= 0, found in one sort."""
    flat = labels.ravel()
    where = np.flatnonzero(flat >= 0)
    order = where[np.argsort(flat[where], kind="stable")]
    values, starts = np.unique(flat[order], return_index=True)
    return dict(zip(values.tolist(), np.split(order, starts[1:])))


def cluster_points(points: np.ndarray, cell: float, gap: float,
                   height_gap: float) -> list[np.ndarray]:
    """Indices of the groups of (N, 3) points that stand together on the table.

    Points fall into the cells of a `cell`-sized grid over x, y; cells closer than `gap` are
    connected (8-neighbours); each connected group is then split where its heights leave an
    empty interval wider than `height_gap` (a hand hovering over a block).
    """
    radius = int(np.ceil(gap / (2 * cell)))
    cells = np.floor((points[:, :2] - points[:, :2].min(axis=0)) / cell).astype(int)
    grid = np.zeros(cells.max(axis=0) + 1, np.uint8)
    grid[cells[:, 0], cells[:, 1]] = 1
    grid = cv2.dilate(grid, np.ones((2 * radius + 1,) * 2, np.uint8))
    _, components = cv2.connectedComponents(grid)
    groups = []
    for members in indices_by_label(components[cells[:, 0], cells[:, 1]]).values():
        order = members[np.argsort(points[members, 2])]
        groups += np.split(order, np.flatnonzero(np.diff(points[order, 2]) > height_gap) + 1)
    return groups


def footprint_width(points: np.ndarray) -> float:
    """Longest side (m) of the minimum-area rectangle around (N, 3) points' x, y footprint."""
    _, sides, _ = cv2.minAreaRect((points[:, :2] * 1000).astype(np.float32))
    return max(sides) / 1000
