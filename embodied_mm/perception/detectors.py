"""Object detectors over one RGB-D frame: `detect_gt` (sim segmentation ids) and `detect_color`.

Both return world-frame `ObjectState`s posed by `estimate`. `detect_gt` measures the sim's
object table through its segmentation masks. `detect_color` needs nothing from a simulator, so
a real RGB-D camera over a plain table can use it:

1. pixels over the table area (plus a margin) between `min_height` and `max_height` are labelled
   with the nearest colour word by chromaticity (shading-invariant) and brightness. White must
   be as bright as a lit top face (a shaded white face is the grey of the white Panda), and white
   surfaces connected to the arm (grey surfaces reaching out of that space) are dropped;
2. each colour's points are grouped by where they stand on the table, split at height gaps, so
   occlusion in the image neither splits nor merges objects;
3. a group wider than a block holds a bowl; the points off its walls, floor and base are a
   same-coloured block in or beside it; blocks must be cube-sized and stand on something;
4. a white block under another block shows only grey sides, so it is looked for (in grey
   pixels off the arm) only where a found block would otherwise float.

Partly hidden objects (a held block) are posed from what is visible; an object hidden entirely
is not reported. One object per (colour, kind) is assumed (the scenes' convention): of two
candidates, the larger is kept.

Example:
    objects = detect_color(rgb, depth, camera, known=previous_objects)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from embodied_mm.perception.estimate import (
    Estimate,
    ShapePriors,
    bowl_members,
    estimate_block,
    estimate_bowl,
    plausible,
    supported,
)
from embodied_mm.perception.geometry import (
    CameraModel,
    cluster_points,
    footprint_width,
    indices_by_label,
    surface_normals,
)
from embodied_mm.table import TABLE
from embodied_mm.types import ObjectState
from embodied_mm.vocabulary import COLORS, KINDS

MIN_PIXELS = 12  # per block at 320x240 (scaled with the image area); a bowl needs 5 times more
BOWL_PIXELS = 5
_REFS = np.array(list(COLORS.values()), np.float32)
_REF_CHROMA = _REFS / _REFS.sum(axis=1, keepdims=True)
_NEUTRAL = np.ptp(_REFS, axis=1) < 0.1  # white: told apart from grey by brightness alone
_WHITE = list(COLORS)[int(np.argmax(_NEUTRAL))]


@dataclass(frozen=True)
class ColorParams:
    """Thresholds of `detect_color`; defaults suit the sim and a diffusely lit table."""

    min_height: float = 0.004  # m above the table: lower is the table itself
    max_height: float = 0.25  # m: higher is the arm (a 4-block tower tops out at 0.2)
    table_margin: float = 0.06  # m around `TABLE` where objects may still stand
    chroma_tolerance: float = 0.035  # max distance to a colour word's chromaticity
    min_brightness: float = 0.3  # of the colour word's brightness; darker pixels are shadow
    white_brightness: float = 0.8  # of white's: only lit top faces, never the grey arm
    bowl_min_width: float = 0.095  # m: wider groups hold a bowl (blocks reach 0.071 diagonally)
    grid_cell: float = 0.004  # m, table grid for grouping points
    height_gap: float = 0.04  # m of empty height that splits a group (> a bowl's rim-floor)
    depth_edge: float = 0.015  # m of depth between neighbouring pixels: different surfaces
    grey_saturation: float = 0.1  # HSV saturation below this is grey (the arm; the table: 0.26)


def detect_gt(rgb: np.ndarray, depth: np.ndarray, segmentation: np.ndarray,
              camera: CameraModel, object_table: Sequence[Mapping],
              priors: ShapePriors | None = None) -> list[ObjectState]:
    """Poses of the object table's objects, from their segmentation masks.

    Args:
        rgb: (H, W, 3) uint8, unused (so that both detectors take the same frame).
        depth: (H, W) float32 eye-space depth, m.
        segmentation: (H, W) int32 segmentation ids.
        camera: the camera that took the frame.
        object_table: one mapping per object: `name`, `kind`, `color`, `mask_id` and optional
            `size` ((3,) m, used as the exact size).
        priors: known sizes, for objects whose entry has no `size`.

    Returns:
        The objects with at least a few visible pixels, in table order.
    """
    priors = priors or ShapePriors()
    ids = [entry["mask_id"] for entry in object_table]
    labels = np.where(np.isin(segmentation, ids), segmentation, -1)
    points = camera.back_project(depth)
    normals = surface_normals(points, labels)
    pixels = indices_by_label(labels)
    objects = []
    for entry in object_table:
        where = pixels.get(entry["mask_id"], np.zeros(0, int))
        if len(where) < _min_pixels(depth.shape):
            continue
        est = _estimate(entry["kind"], points.reshape(-1, 3)[where],
                        normals.reshape(-1, 3)[where], camera,
                        priors.with_size(entry["kind"], entry.get("size")))
        if est is not None:
            objects.append(ObjectState(entry["name"], entry["kind"], entry["color"], est.position,
                                       est.orientation, est.size, entry["mask_id"]))
    return objects


def detect_color(rgb: np.ndarray, depth: np.ndarray, camera: CameraModel,
                 known: Sequence[ObjectState | Mapping] = (), priors: ShapePriors | None = None,
                 params: ColorParams | None = None,
                 masks: dict[str, np.ndarray] | None = None) -> list[ObjectState]:
    """Objects found by colour segmentation, with nothing from a simulator.

    Args:
        rgb: (H, W, 3) uint8.
        depth: (H, W) float32 eye-space depth, m (<= 0 or NaN: no reading).
        camera: the camera that took the frame.
        known: objects seen before (`ObjectState`s or object-table mappings): a detection of
            the same colour and kind keeps its name; a mapping's `size`, if any, is used exactly.
        priors: known object sizes.
        params: thresholds.
        masks: if given, filled with each returned object's name → (H, W) bool mask of the
            pixels it was posed from (for scoring against ground-truth masks).

    Returns:
        One object per (colour, kind) in vocabulary order; known ones keep their names, new ones
        are named `obj_<n>` after the highest known index.
    """
    priors, params = priors or ShapePriors(), params or ColorParams()
    points = camera.back_project(depth)
    x, y, z = np.moveaxis(points, -1, 0)
    m = params.table_margin
    with np.errstate(invalid="ignore"):
        inside = ((z < params.max_height) & (x > TABLE.x_min - m) & (x < TABLE.x_max + m) &
                  (y > TABLE.y_min - m) & (y < TABLE.y_max + m))
        candidate = inside & (z > params.min_height)
        outside = ~inside & (z > params.min_height)  # the arm reaching in from there
    labels = np.full(depth.shape, -1)
    labels[candidate] = classify_colors(rgb[candidate], params)
    grey, arm = _grey_and_arm(rgb, depth, outside, params)
    labels[(labels >= 0) & _NEUTRAL[labels] & arm] = -1
    normals = surface_normals(points, labels).reshape(-1, 3)
    sizes = {_key(k): k.get("size") for k in known if isinstance(k, Mapping)}
    found: dict[tuple[str, str], tuple[int, Estimate]] = {}
    pixels: dict[tuple[str, str], np.ndarray] = {}  # flat indices each object was posed from
    flat_points = points.reshape(-1, 3)
    for index, where in indices_by_label(labels).items():
        color = list(COLORS)[index]
        for kind, obj in _objects(flat_points[where], params, camera):
            least = _min_pixels(depth.shape) * (BOWL_PIXELS if kind == "bowl" else 1)
            if len(obj) < max(least, found.get((color, kind), (0,))[0] + 1):
                continue
            est = _estimate(kind, flat_points[where[obj]], normals[where[obj]], camera,
                            priors.with_size(kind, sizes.get((color, kind))))
            on_table = est is not None and TABLE.contains(est.position[:2], params.table_margin)
            if on_table and plausible(est, flat_points[where[obj]], normals[where[obj]]):
                found[(color, kind)] = (len(obj), est)
                pixels[(color, kind)] = where[obj]
    if (_WHITE, "block") not in found:
        shaded = np.where(grey & ~arm & candidate & (labels < 0), 0, -1)
        prior = priors.with_size("block", sizes.get((_WHITE, "block"))).block_sizes
        _add_white_support(found, points, shaded, camera, prior, pixels)
    objects = _name(found, known)
    if masks is not None:
        for obj in objects:
            mask = np.zeros(depth.size, bool)
            mask[pixels[(obj.color, obj.kind)]] = True
            masks[obj.name] = mask.reshape(depth.shape)
    return objects


def classify_colors(pixels: np.ndarray, params: ColorParams | None = None) -> np.ndarray:
    """(M,) index into `COLORS` of each (M, 3) uint8 pixel, or -1 when no colour word fits."""
    params = params or ColorParams()
    rgb = pixels.astype(np.float32) / 255.0
    chroma = rgb / np.maximum(rgb.sum(axis=1, keepdims=True), 1e-6)
    distance = np.sqrt(((chroma[:, None, :] - _REF_CHROMA[None]) ** 2).sum(axis=-1))  # (M, C)
    best = distance.argmin(axis=1)
    brightness = rgb.max(axis=1) / _REFS[best].max(axis=1)
    floor = np.where(_NEUTRAL[best], params.white_brightness, params.min_brightness)
    ok = (distance.min(axis=1) < params.chroma_tolerance) & (brightness > floor)
    return np.where(ok, best, -1)


def _grey_and_arm(rgb: np.ndarray, depth: np.ndarray, outside: np.ndarray,
                  params: ColorParams) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) bools: grey pixels, and grey surfaces (the white Panda, shaded) connected to
    something `outside` the objects' space, i.e. the arm reaching in. Surfaces are cut apart at
    depth edges, so a white object is lost with the arm only while the gripper touches it."""
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV)
    grey = (hsv[..., 1] < 255 * params.grey_saturation) & (hsv[..., 2] > 40)
    surface = grey.copy()
    with np.errstate(invalid="ignore"):
        cut_right = ~(np.abs(np.diff(depth, axis=1)) < params.depth_edge)
        cut_down = ~(np.abs(np.diff(depth, axis=0)) < params.depth_edge)
    surface[:, 1:] &= ~cut_right
    surface[:, :-1] &= ~cut_right
    surface[1:] &= ~cut_down
    surface[:-1] &= ~cut_down
    _, parts = cv2.connectedComponents(surface.astype(np.uint8), connectivity=4)
    is_arm = np.zeros(parts.max() + 1, np.uint8)
    is_arm[parts[surface & outside]] = 1
    is_arm[0] = 0
    arm = cv2.dilate(is_arm[parts], np.ones((5, 5), np.uint8)).astype(bool)  # over the cuts
    return grey, arm


def _add_white_support(found: dict, points: np.ndarray, shaded: np.ndarray,
                       camera: CameraModel, sizes: Sequence[float], pixels: dict) -> None:
    """A white block under another block: with its top covered, only its shaded sides show,
    grey like the arm, so it is looked for only where a found block would otherwise float."""
    normals = surface_normals(points, shaded).reshape(-1, 3)
    flat_points, grey = points.reshape(-1, 3), np.flatnonzero(shaded.ravel() == 0)
    for (_, kind), (_, est) in list(found.items()):
        bottom = est.position[2] - est.size[2] / 2
        if kind != "block" or bottom < 0.02 or supported(est, [o for _, o in found.values()]):
            continue  # on the table, in a bowl, or on a block that was seen
        near = grey[(np.linalg.norm(flat_points[grey, :2] - est.position[:2], axis=1) <
                     est.size[0]) & (flat_points[grey, 2] < bottom + 0.005)]
        if len(near) >= _min_pixels(shaded.shape):
            white = estimate_block(flat_points[near], camera.eye, normals[near], sizes)
            if white is not None and abs(white.position[2] + white.size[2] / 2 - bottom) < 0.01 \
                    and plausible(white, flat_points[near], normals[near]) \
                    and supported(white, [o for _, o in found.values()]):
                found[(_WHITE, "block")] = (len(near), white)
                pixels[(_WHITE, "block")] = near
                return


def _objects(points: np.ndarray, params: ColorParams,
             camera: CameraModel) -> list[tuple[str, np.ndarray]]:
    """(kind, indices) of the objects among one colour's points."""
    objects = []
    for group in _group(points, params, camera):
        if len(group) < 5 or footprint_width(points[group]) <= params.bowl_min_width:
            objects.append(("block", group))
            continue
        bowl = bowl_members(points[group])
        if bowl is None:
            objects.append(("bowl", group))
            continue
        objects.append(("bowl", group[bowl]))
        objects += [("block", group[~bowl][g]) for g in _group(points[group[~bowl]], params,
                                                                  camera)]
    return objects


def _group(points: np.ndarray, params: ColorParams, camera: CameraModel) -> list[np.ndarray]:
    """Object-sized groups of one colour's points, bridging gaps of two pixels' footprint."""
    if len(points) == 0:
        return []
    depth = np.linalg.norm(points - camera.eye, axis=1)
    sine = np.clip((camera.eye[2] - points[:, 2]) / depth, 0.2, 1.0)  # view elevation
    gap = 2.0 * float(np.percentile(camera.pixel_size(depth) / sine, 95))
    return cluster_points(points, params.grid_cell, gap, params.height_gap)


def _estimate(kind: str, points: np.ndarray, normals: np.ndarray, camera: CameraModel,
              priors: ShapePriors) -> Estimate | None:
    if kind == "bowl":
        return estimate_bowl(points, priors.bowl_diameter, priors.bowl_height)
    return estimate_block(points, camera.eye, normals, priors.block_sizes)


def _min_pixels(shape: tuple[int, ...]) -> int:
    return max(4, round(MIN_PIXELS * shape[0] * shape[1] / (320 * 240)))


def _key(obj: ObjectState | Mapping) -> tuple[str, str]:
    return (obj["color"], obj["kind"]) if isinstance(obj, Mapping) else (obj.color, obj.kind)


def _name(found: Mapping[tuple[str, str], tuple[int, Estimate]],
          known: Sequence[ObjectState | Mapping]) -> list[ObjectState]:
    names = {_key(k): k["name"] if isinstance(k, Mapping) else k.name for k in known}
    used = [int(n[4:]) for n in names.values() if n.startswith("obj_") and n[4:].isdigit()]
    next_index = max(used, default=0) + 1
    objects = []
    for color, kind in sorted(found, key=lambda k: (list(COLORS).index(k[0]),
                                                    KINDS.index(k[1]))):
        if (color, kind) not in names:
            names[(color, kind)], next_index = f"obj_{next_index}", next_index + 1
        est = found[(color, kind)][1]
        objects.append(ObjectState(names[(color, kind)], kind, color, est.position,
                                   est.orientation, est.size))
    return objects
