"""One object's pose and size from its pixels' world points, robust to the oblique view.

Block (a cube): the yaw comes from the side faces' normals (or the top face's outline). Along
each face axis, the face turned towards the camera lies exactly on the cube's side, so the
centre is that face plus half an edge: accurate even when the far half is hidden (under the
gripper, behind a bowl wall, under a stacked block). Centre z is the top minus half an edge, or,
when the top face is hidden (a block stacked on it, the gripper over it), the bottom plus half
an edge. The edge is the largest visible extent, snapped to the nearest known size if given;
points much taller than wide hold a stack the mask did not split (or the side of the block
below), and are posed as the top block, whose edge is the width.
Bowl: a circle fitted to the flat rim top, so the near outer wall and the far inner wall do not
bias the centre; the rim height gives z. `bowl_members` separates a bowl from a same-coloured
block in or beside it; `split_blocks` cuts the points of two or three same-coloured blocks that
one mask took in (a tower, blocks side by side) into one part per cube.

Example:
    >>> import numpy as np
    >>> g = np.linspace(-0.02, 0.02, 21)
    >>> top = np.stack(np.meshgrid(g + 0.5, g, [0.04]), -1).reshape(-1, 3)
    >>> est = estimate_block(top, eye=np.array([1.15, 0.0, 0.75]), sizes=(0.04, 0.05))
    >>> np.round(est.position, 3).tolist(), est.size.tolist()
    ([0.5, 0.0, 0.02], [0.04, 0.04, 0.04])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

TOP_BAND = 0.004  # m: points this close below the highest one form a block's top face
RIM_BAND = 0.003  # m: the same for a bowl's rim top
SIDE_NORMAL_Z = 0.3  # |n_z| below this: a vertical (side) face
FLAT_NORMAL_Z = 0.9  # |n_z| above this: a horizontal face
MIN_POINTS = 6
EXTREME = 0.005  # quantile taken as a point set's extreme (ignores a stray pixel or two)
TALLER_THAN_WIDE = 0.015  # m: a block's points this much taller than wide span a stack
SPAN_QUANTILE = 0.03  # a block's width is taken between these quantiles (outline pixels stray)
STANDS_BELOW = 0.02  # m: a stack's lowest point is this close to the table (or a bowl's floor)
STACK_GAP = 0.01  # m: the largest height gap between points of the cubes under a top cube
MIN_PART_POINTS = 25  # points a block cut out of a larger detection must keep to count
PURER_BY = 0.1  # share of a column's points: colours that clearly favour another band count


@dataclass(frozen=True)
class ShapePriors:
    """Sizes known in advance (all optional): snap measured sizes to what really exists."""

    block_sizes: tuple[float, ...] = ()  # m, cube edges, e.g. (0.04, 0.05)
    bowl_diameter: float | None = None  # m, outer
    bowl_height: float | None = None  # m

    def with_size(self, kind: str, size: Sequence[float] | float | None) -> ShapePriors:
        """These priors with one object's exact size ((3,) extent or a scalar) put in."""
        if size is None:
            return self
        extent = np.asarray(size, float).reshape(-1)
        if kind == "bowl":
            return replace(self, bowl_diameter=float(extent[0]), bowl_height=float(extent[-1]))
        return replace(self, block_sizes=(float(extent[0]),))


@dataclass(frozen=True)
class Estimate:
    """Pose and size of one object, as `ObjectState` wants them."""

    kind: str
    position: np.ndarray  # (3,) box centre, m
    size: np.ndarray  # (3,) box extent, m
    yaw: float  # rad; a cube's yaw is only defined modulo 90°, given in [-pi/4, pi/4)

    @property
    def orientation(self) -> np.ndarray:
        """(4,) quaternion xyzw of a rotation by `yaw` about z."""
        return np.array([0.0, 0.0, np.sin(self.yaw / 2), np.cos(self.yaw / 2)])


def estimate_block(points: np.ndarray, eye: np.ndarray, normals: np.ndarray | None = None,
                   sizes: Sequence[float] = (),
                   band: tuple[float, float] | None = None) -> Estimate | None:
    """A cube's pose from its visible points.

    Args:
        points: (N, 3) world points of the block's pixels (NaN rows are dropped).
        eye: (3,) camera centre in the world frame (which faces are turned towards it).
        normals: optional (N, 3) unit surface normals of the same pixels (NaN where unknown).
        sizes: known edge lengths; the measured edge snaps to the nearest. Empty: measured.
        band: the cube's known height extent (bottom, top), m, e.g. its band of a column
            (`cut_column`): its edge and centre height; only x and y come from the points.

    Returns:
        The estimate, or None with fewer than a handful of valid points.
    """
    keep = np.isfinite(points).all(axis=1)
    if keep.sum() < MIN_POINTS:
        return None
    points = points[keep]
    normals = normals[keep] if normals is not None else None
    top, bottom, in_band, yaw, axes, coords = _cube_frame(points, normals)
    lo, hi = np.quantile(coords, [EXTREME, 1 - EXTREME], axis=0)
    width = float((hi - lo).max())
    # A cube is as tall as it is wide: points spanning much more height than width hold the
    # block below it too (a stack the mask did not split), and the block is the top one.
    stacked = top - bottom > width + TALLER_THAN_WIDE
    edge = width if stacked else max(width, top - bottom)
    if band is not None:
        edge = band[1] - band[0]
    if sizes:
        edge = float(min(sizes, key=lambda s: abs(s - edge)))
    # Per axis, the face turned towards the camera bounds the cube on that side.
    towards = (eye[:2] - points[:, :2].mean(axis=0)) @ axes.T
    xy = np.where(towards > 0, hi - edge / 2, lo + edge / 2) @ axes
    # With its top face hidden (a block stacked on it, the gripper over it) the highest visible
    # points are not the top; the bottom (table, support, or nothing: held) is seen instead.
    band_z = np.abs(normals[in_band, 2]) if normals is not None else np.array([])
    band_z = band_z[np.isfinite(band_z)]
    top_seen = len(band_z) == 0 or (band_z > FLAT_NORMAL_Z).sum() >= 3
    z = top - edge / 2 if top_seen or stacked else bottom + edge / 2
    if band is not None:
        z = (band[0] + band[1]) / 2
    return Estimate("block", np.array([xy[0], xy[1], z]), np.full(3, edge), yaw)


def estimate_bowl(points: np.ndarray, diameter: float | None = None,
                  height: float | None = None) -> Estimate | None:
    """A bowl's pose from its visible points (rim, walls, floor).

    Args:
        points: (N, 3) world points of the bowl's pixels.
        diameter: known outer diameter, m; measured from the walls when None.
        height: known height, m; when None the bowl is taken to stand on the table (z = 0).

    Returns:
        The estimate (yaw 0: a bowl is round), or None with too few valid points.
    """
    points = points[np.isfinite(points).all(axis=1)]
    if len(points) < MIN_POINTS:
        return None
    top = float(np.percentile(points[:, 2], 99))
    walls = points[points[:, 2] > top / 2]
    rim = points[points[:, 2] > top - RIM_BAND]
    center, _ = fit_circle(rim[:, :2] if len(rim) >= MIN_POINTS else walls[:, :2])
    if diameter is None:
        diameter = 2 * float(np.percentile(np.linalg.norm(walls[:, :2] - center, axis=1), 98))
    height = top if height is None else height
    return Estimate("bowl", np.array([center[0], center[1], top - height / 2]),
                    np.array([diameter, diameter, height]), 0.0)


def fit_circle(xy: np.ndarray, trim: float = 0.005) -> tuple[np.ndarray, float]:
    """Least-squares circle (Kasa) through (N, 2) points, refitted once without the points
    farther than `trim` from it. Returns the centre (2,) and radius."""
    center, radius = _kasa(xy)
    inliers = np.abs(np.linalg.norm(xy - center, axis=1) - radius) < trim
    if inliers.sum() >= 3 and not inliers.all():
        center, radius = _kasa(xy[inliers])
    return center, radius


def fit_circle_ransac(xy: np.ndarray, radius_range: tuple[float, float] = (0.04, 0.12),
                      band: float = 0.006, iterations: int = 64, min_share: float = 0.3
                      ) -> tuple[np.ndarray, float] | None:
    """Circle through most of the (N, 2) points (a bowl's walls among other points), radius
    within `radius_range`; None when no circle holds `min_share` of them. Deterministic."""
    if len(xy) < 3:
        return None
    rng = np.random.default_rng(0)
    probe = xy[rng.choice(len(xy), min(len(xy), 400), replace=False)]  # enough to score
    a, b, c = np.moveaxis(probe[rng.integers(len(probe), size=(iterations, 3))], 1, 0)
    # Circumcircles of all sampled triples at once, (I, 2) centres and (I,) radii.
    d = 2 * (a[:, 0] * (b[:, 1] - c[:, 1]) + b[:, 0] * (c[:, 1] - a[:, 1]) +
             c[:, 0] * (a[:, 1] - b[:, 1]))
    sa, sb, sc = (a**2).sum(1), (b**2).sum(1), (c**2).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        centers = np.stack([sa * (b[:, 1] - c[:, 1]) + sb * (c[:, 1] - a[:, 1]) +
                            sc * (a[:, 1] - b[:, 1]),
                            sa * (c[:, 0] - b[:, 0]) + sb * (a[:, 0] - c[:, 0]) +
                            sc * (b[:, 0] - a[:, 0])], axis=1) / d[:, None]
        radii = np.linalg.norm(a - centers, axis=1)
        counts = (np.abs(np.linalg.norm(probe[None] - centers[:, None], axis=2) -
                         radii[:, None]) < band).sum(axis=1)
    counts[~((radii >= radius_range[0]) & (radii <= radius_range[1]))] = 0
    if counts.max() < min_share * len(probe):
        return None
    best = (centers[counts.argmax()], radii[counts.argmax()])
    inliers = np.abs(np.linalg.norm(xy - best[0], axis=1) - best[1]) < band
    return fit_circle(xy[inliers], trim=band)


def bowl_members(points: np.ndarray, ring: float = 0.006, floor: float = 0.015,
                 base: float = 0.008) -> np.ndarray | None:
    """Which of a group's (N, 3) points belong to the bowl in it, the rest being a block of the
    same colour inside it or touching it; None when no bowl wall is found.

    A circle is fitted to the walls, then refitted to the flat rim top (the most common height on
    the ring's upper half: a block is taller and rarer there). The bowl is the points within
    `ring` of that circle, its floor (inside, below `floor`) and its base (below `base`).
    """
    z = points[:, 2]
    circle = fit_circle_ransac(points[z > base, :2], band=ring)
    if circle is None:
        return None
    on_ring = np.abs(np.linalg.norm(points[:, :2] - circle[0], axis=1) - circle[1]) < ring
    upper = np.sort(z[on_ring])[on_ring.sum() // 2:]
    counts, edges = np.histogram(upper, np.arange(upper[0], upper[-1] + RIM_BAND, RIM_BAND))
    rim = on_ring & (np.abs(z - edges[np.argmax(counts)] - RIM_BAND / 2) < RIM_BAND)
    center, radius = fit_circle(points[rim, :2]) if rim.sum() >= 3 else circle
    r = np.linalg.norm(points[:, :2] - center, axis=1)
    return (np.abs(r - radius) < ring) | ((r < radius) & (z < floor)) | (z < base)


def plausible(est: Estimate, points: np.ndarray, normals: np.ndarray) -> bool:
    """Whether an estimate from (N, 3) points and normals can be a real block or bowl: cube- or
    bowl-sized, not sunk into the table, and, for a block, flat only at its top (a fragment of a
    partly hidden bowl shows its floor below its rim)."""
    if est.kind == "bowl":
        return 0.09 <= est.size[0] <= 0.25 and est.size[2] <= 0.08
    top = est.position[2] + est.size[2] / 2
    with np.errstate(invalid="ignore"):
        flat = np.abs(normals[:, 2]) > FLAT_NORMAL_Z
    low = flat & (points[:, 2] < top - 0.01)
    return (0.025 <= est.size[0] <= 0.065 and top - est.size[2] > -0.01 and
            low.sum() <= max(3, 0.1 * flat.sum()))


def supported(block: Estimate, others: Sequence[Estimate]) -> bool:
    """True when the block rests on the table, in a bowl or on top of one of `others`."""
    bottom = block.position[2] - block.size[2] / 2
    return abs(bottom) < 0.01 or any(
        abs(o.position[2] + o.size[2] / 2 - bottom) < 0.01 and
        np.linalg.norm(o.position[:2] - block.position[:2]) < o.size[0] / 2 for o in others)


def _kasa(xy: np.ndarray) -> tuple[np.ndarray, float]:
    if len(xy) < 3:
        return xy.mean(axis=0), 0.0
    a = np.column_stack([xy, np.ones(len(xy))])
    (bx, by, c), *_ = np.linalg.lstsq(a, (xy**2).sum(axis=1), rcond=None)
    center = np.array([bx / 2, by / 2])
    return center, float(np.sqrt(max(c + center @ center, 0.0)))


def _cube_frame(points: np.ndarray, normals: np.ndarray | None):
    """(top, bottom, top-band mask, yaw, (2, 2) face axes, (N, 2) points in the cube's frame)
    of a cube's visible points."""
    top = float(np.quantile(points[:, 2], 1 - EXTREME))
    bottom = float(np.quantile(points[:, 2], EXTREME))
    in_band = points[:, 2] > top - TOP_BAND
    yaw = _yaw(normals, points[in_band, :2])
    axes = np.array([[np.cos(yaw), np.sin(yaw)], [-np.sin(yaw), np.cos(yaw)]])
    return top, bottom, in_band, yaw, axes, points[:, :2] @ axes.T


def _yaw(normals: np.ndarray | None, face: np.ndarray) -> float:
    """Cube yaw in [-pi/4, pi/4): from side-face normals when enough are seen, else from the
    edges of the top face's outline, else 0."""
    if normals is not None:
        side = normals[np.abs(normals[:, 2]) < SIDE_NORMAL_Z]
        if len(side) >= MIN_POINTS:
            # Angles times 4 make the four face directions of a cube agree.
            angle = 4 * np.arctan2(side[:, 1], side[:, 0])
            return _wrap(np.arctan2(np.sin(angle).sum(), np.cos(angle).sum()) / 4)
    if len(face) < MIN_POINTS:
        return 0.0
    # The outline's edges, weighted by length: less swayed by the pixel grid than a fitted box.
    hull = cv2.convexHull((face * 1000).astype(np.float32))[:, 0]
    edges = np.roll(hull, -1, axis=0) - hull
    angle = 4 * np.arctan2(edges[:, 1], edges[:, 0])
    length = np.linalg.norm(edges, axis=1)
    return _wrap(np.arctan2(length @ np.sin(angle), length @ np.cos(angle)) / 4)


def _wrap(yaw: float) -> float:
    return float((yaw + np.pi / 4) % (np.pi / 2) - np.pi / 4)


def split_blocks(points: np.ndarray, normals: np.ndarray | None, max_edge: float) -> np.ndarray:
    """Labels (0, 1, …) that split one block detection's points into the cubes they hold.

    A mask can take in two same-coloured blocks (a tower, two blocks side by side) as one.
    No single cube spans more than `max_edge` up or across its face axes, so points that do are
    cut: a stack below the top block's bottom (the top face's width is its edge), side by side
    halfway along the longer axis; each part is cut again while it still spans too much.

    Args:
        points: (N, 3) finite world points of the detection's pixels.
        normals: optional (N, 3) unit normals of the same pixels (the cube's yaw).
        max_edge: m, the largest cube edge that exists (plus the measurement's slack).

    Returns:
        (N,) int labels; all zero when the points fit one cube.
    """
    labels = np.zeros(len(points), int)
    todo = [np.arange(len(points))]
    count = 1
    while todo:
        index = todo.pop()
        part = _cut(points[index], None if normals is None else normals[index], max_edge)
        if part is None:
            continue
        labels[index[part]] = count
        count += 1
        todo += [index[~part], index[part]]
    return np.unique(labels, return_inverse=True)[1]


def cut_column(points: np.ndarray, normals: np.ndarray | None, cubes: int,
               max_edge: float, colors: np.ndarray | None = None
               ) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Labels (0 = the top cube, 1, 2, … downwards) of the points of a column of stacked cubes,
    and each cube's height band (bottom, top), m.

    The top cube is its top face's width tall; the rest of the column is cut into `cubes` - 1
    equal bands (what the model saw below the top) when such bands are as tall as a cube can
    be, else into the fewest bands no taller than `max_edge`. Given the points' colours, a band
    count whose bands are clearly more of one colour each wins (`PURER_BY`): a tower of several
    colours is cut where its colour changes even when the model merged two of its blocks.

    Args:
        points: (N, 3) finite world points of the column's pixels.
        normals: optional (N, 3) unit normals of the same pixels.
        cubes: how many cubes the model found in the column.
        max_edge: m, the largest cube edge that exists (plus the measurement's slack).
        colors: optional (N,) int colour label of each point.

    Returns:
        (N,) int labels and the bands; all labels zero and no bands when the points are not
        one solid column of two or more cubes standing on something (the top face unseen, a
        gap in height, too short).
    """
    labels = np.zeros(len(points), int)
    if len(points) < 2 * MIN_PART_POINTS:
        return labels, []
    top, bottom, in_band, _, _, coords = _cube_frame(points, normals)
    face = coords[in_band]
    if top - bottom <= max_edge or bottom >= max_edge or len(face) < MIN_POINTS:
        return labels, []
    # Something in front may hide the bottom cube's lower part: the column stands on the table
    # unless its lowest point is low enough to be the table or a bowl's floor. Above the bottom
    # cube's middle the points must be one solid column (no block held over another).
    bottom = bottom if bottom < STANDS_BELOW else 0.0
    upper = np.sort(points[points[:, 2] > bottom + 0.5 * max_edge, 2])
    if len(upper) > 1 and np.diff(upper).max() > STACK_GAP:
        return labels, []
    edge = float(np.clip((face.max(axis=0) - face.min(axis=0)).max(), 0.5 * max_edge, max_edge))
    rest = top - edge - bottom
    if rest < 0.5 * max_edge:
        return labels, []
    below = cubes - 1
    if below < 1 or not 0.5 * max_edge <= rest / below <= max_edge:
        below = int(np.ceil(rest / max_edge))
    depth_below_top = top - edge - points[:, 2]
    if colors is not None:
        below = _purest_count(depth_below_top, colors, rest, below, max_edge)
    step = rest / below
    band = np.clip(np.floor(depth_below_top / step), 0, below - 1).astype(int)
    bands = [(top - edge, top)] + [(top - edge - (k + 1) * step, top - edge - k * step)
                                   for k in range(below)]
    return np.where(depth_below_top < 0, 0, 1 + band), bands


def _purest_count(depth_below_top: np.ndarray, colors: np.ndarray, rest: float, default: int,
                  max_edge: float) -> int:
    """The number of equal bands, each as tall as a cube can be, to cut `rest` m of a column
    below its top cube into. Only a count whose bands each differ in colour from the next one
    can replace `default` (two bands of one colour would be one block cut in two; two cubes of
    one colour never fit in one band): the purest such count if `default`'s bands do not
    change colour from band to band, else if it leaves clearly more of the points in their
    band's majority colour (`PURER_BY`). A tower of one colour keeps `default`."""
    inside = (depth_below_top >= 0) & (depth_below_top < rest)
    depth, labels = depth_below_top[inside], colors[inside]
    if not len(depth):
        return default

    def majorities(bands: int) -> list[tuple[int, int]]:
        """(colour, points of it) of each band that holds points, top down."""
        band = np.minimum(depth // (rest / bands), bands - 1).astype(int)
        counts = [np.bincount(labels[band == k]) for k in np.unique(band)]
        return [(int(c.argmax()), int(c.max())) for c in counts]

    low, high = max(1, int(np.ceil(rest / max_edge))), int(rest / (0.5 * max_edge))
    bands = {n: majorities(n) for n in {default, *range(low, high + 1)}}
    purity = {n: sum(k for _, k in b) / len(depth) for n, b in bands.items()}
    changes = {n: all(a[0] != b[0] for a, b in zip(m, m[1:])) for n, m in bands.items()}
    counts = [n for n in range(low, high + 1) if changes[n]]
    if not counts:
        return default
    best = max(counts, key=purity.__getitem__)
    if not changes[default] or purity[best] > purity[default] + PURER_BY:
        return best
    return default


def _cut(points: np.ndarray, normals: np.ndarray | None, max_edge: float) -> np.ndarray | None:
    """The points of one cube cut off from more than a cube's worth (bool), or None when the
    points fit one cube or a cut would leave a part too small or not under the top cube to be
    one (stray pixels of the table, the fingers or a depth edge)."""
    if len(points) < 2 * MIN_PART_POINTS:
        return None
    top, bottom, in_band, _, _, coords = _cube_frame(points, normals)
    lo, hi = np.quantile(coords, [SPAN_QUANTILE, 1 - SPAN_QUANTILE], axis=0)
    if top - bottom > max_edge and bottom < STANDS_BELOW:  # a stack on the table or in a bowl:
        # the top cube is its top face's width tall
        face = coords[in_band]
        if len(face) >= MIN_POINTS:
            edge = float(np.clip((face.max(axis=0) - face.min(axis=0)).max(), 0.5 * max_edge,
                                 max_edge))
        else:  # the top face is not seen: the fewest cubes as tall as the stack, equal edges
            edge = (top - bottom) / np.ceil((top - bottom) / max_edge)
        cut = points[:, 2] > top - edge
        if cut.all() or not cut.any() or np.linalg.norm(
                coords[cut].mean(axis=0) - coords[~cut].mean(axis=0)) > max_edge / 2:
            return None
        below = np.sort(np.append(points[~cut, 2], top - edge))
        if np.diff(below).max() > STACK_GAP:  # what is below is not one solid column
            return None
    elif (hi - lo).max() > max_edge:  # side by side along the longer face axis
        axis = int(np.argmax(hi - lo))
        cut = coords[:, axis] > (lo[axis] + hi[axis]) / 2
    else:
        return None
    return cut if MIN_PART_POINTS <= cut.sum() <= len(points) - MIN_PART_POINTS else None

