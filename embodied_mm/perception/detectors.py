"""Object detectors over one RGB-D frame: `gt` (sim segmentation ids) and `color` (OpenCV).

Both return `ObjectState`s in the robot base frame. `detect_gt` takes the sim's object table
(name, kind, colour, mask id, size) and only measures poses; `detect_color` needs nothing from
the sim and works with a real RGB-D camera over a plain table: pixels above the table and below
the arm's working height are classified by nearest colour word (chromaticity and brightness),
split into connected blobs, and each blob's kind is read from its footprint (bowls are wide).

Limits (documented in docs/perception.md): a block of the same colour inside a bowl merges
with it in `color` mode; an object hidden completely (e.g. behind the hand) is not reported.

Example:
    objects = detect_color(rgb, depth, camera)
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from embodied_mm.perception.estimate import estimate
from embodied_mm.perception.geometry import CameraModel
from embodied_mm.table import TABLE
from embodied_mm.types import ObjectState
from embodied_mm.vocabulary import COLORS

MIN_PIXELS = 8  # at 320x240; scaled with the image area
MAX_HEIGHT = 0.12  # m: above this it is the arm, not a resting object
MIN_HEIGHT = 0.004  # m: below this it is the table
BOWL_WIDTH = 0.09  # m: blobs wider than this are bowls
TABLE_MARGIN = 0.08  # m around the usable area where objects may still be
BLOCK_SIZES = (0.04, 0.05)
GRID_CELL = 0.005  # m, table grid for splitting objects
COLOR_TOLERANCE = 0.06  # max chromaticity+brightness distance to a colour word


def _min_pixels(shape) -> int:
    return max(3, int(MIN_PIXELS * shape[0] * shape[1] / (320 * 240)))


def detect_gt(rgb: np.ndarray, depth: np.ndarray, segmentation: np.ndarray,
              camera: CameraModel, object_table: Sequence[dict]) -> list[ObjectState]:
    """Objects of `object_table` ({name, kind, color, mask_id, size}) visible in the frame."""
    objects = []
    camera_xy = camera.position[:2]
    for entry in object_table:
        mask = segmentation == entry["mask_id"]
        if mask.sum() < _min_pixels(mask.shape):
            continue
        points = camera.points(depth, mask)
        est = estimate(entry["kind"], points, camera_xy, known_size=entry.get("size"))
        objects.append(ObjectState(entry["name"], entry["kind"], entry["color"], est.position,
                                   est.orientation, est.size, entry["mask_id"]))
    return objects


def detect_color(rgb: np.ndarray, depth: np.ndarray, camera: CameraModel,
                 names: dict[tuple[str, str], str] | None = None) -> list[ObjectState]:
    """Objects found by colour; named by `names[(colour, kind)]` when given (keeps names
    stable across frames), else `obj_1…` in (colour, kind) order."""
    world = camera.points(depth).reshape(depth.shape[0], depth.shape[1], 3)
    x, y, z = world[..., 0], world[..., 1], world[..., 2]
    candidate = ((z > MIN_HEIGHT) & (z < MAX_HEIGHT) &
                 (x > TABLE.x_min - TABLE_MARGIN) & (x < TABLE.x_max + TABLE_MARGIN) &
                 (y > TABLE.y_min - TABLE_MARGIN) & (y < TABLE.y_max + TABLE_MARGIN))
    labels = np.zeros(depth.shape, np.int32)  # 0 = no colour word
    labels[candidate] = _classify_colors(rgb[candidate])
    found = []
    for index, color in enumerate(COLORS, start=1):
        for points in _table_clusters(world[labels == index], _min_pixels(depth.shape)):
            extent = np.percentile(points[:, :2], 98, axis=0) - np.percentile(
                points[:, :2], 2, axis=0)
            width = extent.max()
            kind = "bowl" if width > BOWL_WIDTH else "block"
            est = estimate(kind, points, camera.position[:2], known_sizes=BLOCK_SIZES)
            found.append((color, kind, est))
    found.sort(key=lambda f: (f[0], f[1]))
    objects = []
    for i, (color, kind, est) in enumerate(found, start=1):
        name = (names or {}).get((color, kind), f"obj_{i}")
        objects.append(ObjectState(name, kind, color, est.position, est.orientation, est.size))
    return objects


def _table_clusters(points: np.ndarray, min_points: int) -> list[np.ndarray]:
    """Splits points into objects by where they stand on the table: connected cells of a
    5 mm grid over x, y. (In the image a block touching a bowl of its colour would merge.)"""
    if len(points) < min_points:
        return []
    origin = np.array([TABLE.x_min - TABLE_MARGIN, TABLE.y_min - TABLE_MARGIN])
    cells = np.floor((points[:, :2] - origin) / GRID_CELL).astype(int)
    shape = cells.max(axis=0) + 2
    grid = np.zeros(shape, np.uint8)
    grid[cells[:, 0], cells[:, 1]] = 1
    grid = cv2.dilate(grid, np.ones((3, 3), np.uint8))  # bridge gaps between sparse pixels
    count, components = cv2.connectedComponents(grid)
    owner = components[cells[:, 0], cells[:, 1]]
    clusters = [points[owner == c] for c in range(1, count)]
    return [c for c in clusters if len(c) >= min_points]


def _classify_colors(pixels: np.ndarray) -> np.ndarray:
    """Per pixel (M, 3) uint8: 1 + index of the nearest colour word, or 0 if none is close."""
    pixel = pixels.astype(np.float32) / 255.0
    chroma = pixel / (pixel.sum(axis=1, keepdims=True) + 1e-6)  # shading-invariant colour
    refs = np.array(list(COLORS.values()), np.float32)
    ref_chroma = refs / refs.sum(axis=1, keepdims=True)
    distance = np.linalg.norm(chroma[:, None, :] - ref_chroma, axis=-1)
    # Brightness separates white from greys and brown from orange.
    distance += 0.15 * np.abs(pixel.mean(axis=1)[:, None] - refs.mean(axis=1))
    best = distance.argmin(axis=1)
    return np.where(distance.min(axis=1) < COLOR_TOLERANCE, best + 1, 0)
