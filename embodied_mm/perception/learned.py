"""`learned` perception: a small fully-convolutional instance model over one RGB-D frame.

The network (`InstanceNet`) sees the frame at half resolution (160×120 for a 320×240 camera;
another camera's frames are first resampled to that pixel scale, `scale.py`):
RGB, the height of every pixel above the table (depth back-projected with the camera's
intrinsics and extrinsics, so it does not depend on where the camera stands) and a depth-valid
flag. Per pixel it predicts the kind (background / block / bowl), the colour word, and the
offset to the centre of the object the pixel belongs to (Panoptic-DeepLab style). Instances
are the peaks of the pixels' votes for their centres, per kind: a block in the bowl of its own
colour is two kinds, touching or stacked blocks of one colour vote for two centres. Each
instance's colour is the mean of its pixels' colour probabilities. Pose and size come from the
instance's full-resolution mask, the depth and the camera, as in the other modes (`estimate`).

Example:
    >>> from embodied_mm.perception.learned import detect_learned
    >>> objects = detect_learned(rgb, depth, camera)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from embodied_mm.perception.estimate import (
    Estimate,
    ShapePriors,
    cut_column,
    estimate_block,
    estimate_bowl,
    plausible,
    split_blocks,
)
from embodied_mm.perception.geometry import CameraModel, surface_normals
from embodied_mm.perception.scale import WorkingFrame
from embodied_mm.types import ObjectState
from embodied_mm.vocabulary import COLORS, KINDS

FORMAT = "embodied_mm.perception.learned/1"
CHECKPOINT = Path("checkpoints") / "perception"  # under the share directory
KIND_CLASSES = ("background", *KINDS)
OFFSET_SCALE = 10.0  # output px per unit of the offset head
HEIGHT_SCALE = 5.0  # input height channel = metres above the table × this
MIN_INNER_PIXELS = 12  # a block posed from its mask's inner pixels needs this many
# A block mask's pixel lower than this, unless it faces sideways, is the table seen past the
# block's edge (a mask spilt over it) or a block face's bottom rim: left out of the pose.
TABLE_LEVEL = 0.004  # m above the table
SIDEWAYS = 0.9  # |normal z| below this faces sideways (a stricter bound loses the rim's points)


@dataclass(frozen=True)
class NetConfig:
    """Widths of `InstanceNet`; the defaults are what ships."""

    widths: tuple[int, int, int] = (16, 32, 48)  # at 1/2, 1/4, 1/8 of the input
    fine: int = 8  # full-input-resolution features (thin rims, small blocks' outlines)
    head: int = 16  # channels of the output layer


@dataclass(frozen=True)
class PostConfig:
    """Grouping thresholds of the detector."""

    min_votes: float = 6.0  # blurred vote mass a centre needs (output pixels)
    peak_window: int = 5  # px, non-maximum suppression window at output resolution
    max_vote_distance: float = 6.0  # px: a pixel voting farther from every centre is dropped
    max_peaks: int = 32  # per kind, strongest first (bounds the time on a confusing frame)
    min_split_pixels: int = 6  # output px of a second colour that splits an instance ...
    min_split_share: float = 0.2  # ... and its share of the instance
    min_pixels: tuple[int, int] = (12, 40)  # block, bowl: full-resolution pixels at 320x240
    min_depth_share: float = 0.5  # of a mask's pixels with a depth reading (else unplaceable)
    # Two objects of one kind cannot overlap: detections whose centres are closer than this
    # share of the smaller one's width are one object seen twice, and are merged.
    duplicate_share: float = 0.35
    # No block is larger: a block mask whose points span more, up or across, holds two
    # same-coloured blocks (a tower, two side by side) and is cut (`split_blocks`).
    max_block_edge: float = 0.062
    # Block detections whose centres are closer across than this share of the smaller one's
    # width stand in one column (a tower): the column's pixels are cut into cubes by height
    # again, since the model's boundary between two stacked blocks is often a band off.
    column_share: float = 0.5
    # m from the robot base's axis: a detection centred closer is the robot's own base
    # (nothing the arm can handle stands there).
    base_clearance: float = 0.15


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class InstanceNet(nn.Module):
    """A small U-Net: (B, 5, h, w) input → (B, 3 + C + 2, h, w) kind, colour and offset maps.

    The input is the half-resolution frame (`prepare_input`); h and w must be multiples of 8.
    Most of the work is at 1/2 to 1/8 of the input; at the input's resolution only a thin
    branch and one narrow layer run (CPU time grows with pixels × channels²). Plain 3x3
    convolutions only: dilated and depthwise ones take PyTorch's slow CPU path.
    """

    def __init__(self, config: NetConfig = NetConfig()) -> None:
        super().__init__()
        w1, w2, w3 = config.widths
        self.fine = _block(5, config.fine)  # (B, fine, h, w)
        self.down1 = nn.Sequential(_block(5, w1, 2), _block(w1, w1))  # h/2
        self.down2 = nn.Sequential(_block(w1, w2, 2), _block(w2, w2))  # h/4
        self.down3 = nn.Sequential(_block(w2, w3, 2), _block(w3, w3))  # h/8
        self.up2 = _block(w3 + w2, w2)  # h/4
        self.up1 = _block(w2 + w1, w1)  # h/2
        self.mix = _block(w1 + config.fine, config.head)  # h
        self.out = nn.Conv2d(config.head, len(KIND_CLASSES) + len(COLORS) + 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fine = self.fine(x)
        s1 = self.down1(x)
        s2 = self.down2(s1)
        s3 = self.down3(s2)
        y = self.up2(torch.cat([F.interpolate(s3, size=s2.shape[-2:]), s2], 1))
        y = self.up1(torch.cat([F.interpolate(y, size=s1.shape[-2:]), s1], 1))
        y = F.interpolate(y, size=fine.shape[-2:], mode="bilinear", align_corners=False)
        return self.out(self.mix(torch.cat([y, fine], 1)))


def split_output(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(kind logits (B, 3, H, W), colour logits (B, C, H, W), offsets (B, 2, H, W))."""
    k = len(KIND_CLASSES)
    return out[:, :k], out[:, k:k + len(COLORS)], out[:, k + len(COLORS):]


def input_size(width: int, height: int) -> tuple[int, int]:
    """(w, h) of the network input for a frame: half size, rounded to multiples of 8."""
    return max(8, round(width / 16) * 8), max(8, round(height / 16) * 8)


def prepare_input(rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(5, h, w) float32 network input from an (H, W, 3) uint8 frame and its (H, W, 3) world
    points (NaN where depth is missing): RGB − 0.5, height above the table, depth valid."""
    w, h = input_size(rgb.shape[1], rgb.shape[0])
    color = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255 - 0.5
    z = cv2.resize(points[..., 2].astype(np.float32), (w, h), interpolation=cv2.INTER_NEAREST)
    valid = np.isfinite(z)
    height = np.where(valid, np.clip(z, -0.05, 0.4), 0.0) * HEIGHT_SCALE
    return np.concatenate([color.transpose(2, 0, 1), height[None], valid[None]],
                          0).astype(np.float32)


@dataclass
class Detection:
    """One object found by the learned model."""

    kind: str
    color: str
    mask: np.ndarray  # (H, W) bool, full resolution
    score: float  # mean probability of the kind over the mask
    position: np.ndarray  # (3,) m, box centre in the world frame
    orientation: np.ndarray  # (4,) quaternion xyzw
    size: np.ndarray  # (3,) m


class LearnedDetector:
    """The instance model with its grouping and pose estimation.

    Args:
        model: a trained `InstanceNet` (put in eval mode here).
        post: grouping thresholds.
        priors: known object sizes.
    """

    def __init__(self, model: InstanceNet, post: PostConfig | None = None,
                 priors: ShapePriors | None = None) -> None:
        self.model = model.eval()
        self.post = post or PostConfig()
        self.priors = priors or ShapePriors()

    @classmethod
    def load(cls, folder: str | Path | None = None, **kwargs) -> LearnedDetector:
        """The detector of a checkpoint folder (`config.json` + `model.safetensors`); the
        shipped `checkpoints/perception` by default.

        Raises:
            FileNotFoundError: no checkpoint there.
            ValueError: a checkpoint of another format.
        """
        from safetensors.torch import load_file

        path = resolve_checkpoint(folder)
        config = json.loads((path / "config.json").read_text())
        if config.get("format") != FORMAT:
            raise ValueError(f"{path}: format {config.get('format')!r}, expected {FORMAT!r}")
        model = InstanceNet(NetConfig(**{k: tuple(v) if isinstance(v, list) else v
                                         for k, v in config["net"].items()}))
        model.load_state_dict(load_file(str(path / "model.safetensors")))
        return cls(model, **kwargs)

    @torch.inference_mode()
    def detect(self, rgb: np.ndarray, depth: np.ndarray, camera: CameraModel,
               robot: np.ndarray | None = None) -> list[Detection]:
        """The objects in one frame.

        Args:
            rgb: (H, W, 3) uint8.
            depth: (H, W) float32 eye-space depth, m (<= 0 or NaN: no reading).
            camera: the camera that took the frame.
            robot: (H, W) bool, the robot's own pixels (`self_filter.SelfFilter.mask`): kept
                out of every object's mask, so an object against the arm is posed from its
                own pixels and a piece of the arm is no object.

        Returns:
            Detections with a pose, largest first, their masks at the camera's resolution.

        A camera whose focal length is not the one the model was trained at (a 640×480 real
        camera) has its frames resampled to that pixel scale first (`scale.WorkingFrame`).
        """
        work = WorkingFrame.of(rgb, depth, camera)
        found = self._detect(work.rgb, work.depth, work.camera,
                             None if robot is None else work.work(robot))
        if not work.resized:
            return found
        if robot is None:
            return [replace(d, mask=work.full(d.mask)) for d in found]
        keep = ~robot  # the arm's pixels at the camera's resolution stay out
        return [replace(d, mask=work.full(d.mask) & keep) for d in found]

    def _detect(self, rgb: np.ndarray, depth: np.ndarray, camera: CameraModel,
                robot: np.ndarray | None) -> list[Detection]:
        """`detect` on a frame at the working scale."""
        points = camera.back_project(depth)
        x = torch.from_numpy(prepare_input(rgb, points))[None]
        kind_logits, color_logits, offsets = split_output(self.model(x))
        kind_prob = kind_logits[0].softmax(0).numpy()  # (3, h, w)
        color_prob = color_logits[0].softmax(0).numpy()  # (C, h, w)
        instances, kinds = group_instances(kind_prob.argmax(0), offsets[0].numpy() * OFFSET_SCALE,
                                           self.post)
        instances, kinds = split_by_color(instances, kinds, color_prob.argmax(0), self.post)
        full = _upsample_instances(instances, kind_logits, rgb.shape[:2], kinds)
        if robot is not None:
            full[robot] = 0
        normals = surface_normals(points, full - 1)
        has_depth = np.isfinite(points[..., 2])
        scale = rgb.shape[0] * rgb.shape[1] / (320 * 240)
        found = []
        for k, kind_index in enumerate(kinds, start=1):
            kind = KIND_CLASSES[kind_index]
            low = instances == k
            color = list(COLORS)[int(color_prob[:, low].mean(axis=1).argmax())]
            score = float(kind_prob[kind_index, low].mean())
            whole = full == k
            parts = self._split(whole, points, normals) if kind == "block" else [whole]
            for mask in parts:
                if mask.sum() < self.post.min_pixels[kind_index - 1] * scale:
                    continue
                if has_depth[mask].mean() < self.post.min_depth_share:
                    continue  # mostly in a depth hole: nothing real can be placed there
                est = self._estimate(kind, mask, points, normals, camera)
                if est is not None:
                    found.append(Detection(kind, color, mask, score, est.position,
                                           est.orientation, est.size))
        found = self._merge_duplicates(sorted(found, key=lambda d: -int(d.mask.sum())),
                                       points, normals, camera)
        found = self._recut_columns(found, points, normals, camera, color_prob)
        found = [d for d in found if np.hypot(*d.position[:2]) > self.post.base_clearance]
        return sorted(found, key=lambda d: -int(d.mask.sum()))

    def _split(self, mask: np.ndarray, points: np.ndarray, normals: np.ndarray) -> list[np.ndarray]:
        """A block mask cut into one mask per cube its points hold (`split_blocks`)."""
        return _partition(mask, points, normals,
                          lambda p, n, _: split_blocks(p, n, self.post.max_block_edge))

    def _recut_columns(self, found: list[Detection], points: np.ndarray, normals: np.ndarray,
                       camera: CameraModel, color_prob: np.ndarray) -> list[Detection]:
        """Blocks found in one column are cut again as one: their pixels joined, then cut into
        cubes by height (`cut_column`), each posed within its height band, with the colour its
        pixels vote for. A column the geometry does not cut keeps the model's blocks."""
        blocks = [d for d in found if d.kind == "block"]
        kept = [d for d in found if d.kind != "block"]
        least = self.post.min_pixels[0] * points.shape[0] * points.shape[1] / (320 * 240)
        colors = _full_resolution(color_prob.argmax(0), points.shape[:2])
        for column in _columns(blocks, self.post.column_share):
            bands: list[tuple[float, float]] = []

            def cut(pts: np.ndarray, nrm: np.ndarray, pixels: tuple[np.ndarray, np.ndarray],
                    cubes: int = len(column), bands: list = bands) -> np.ndarray:
                labels, cut_bands = cut_column(pts, nrm, cubes, self.post.max_block_edge,
                                               colors[pixels])
                bands.extend(cut_bands)
                return labels

            parts = []
            if len(column) > 1:
                joined = np.logical_or.reduce([d.mask for d in column])
                parts = [(m, band) for m, band in zip(_partition(joined, points, normals, cut),
                                                       bands) if m.sum() >= least]
            if len(parts) < 2:
                kept += column
                continue
            for mask, band in parts:
                est = self._estimate("block", mask, points, normals, camera, band)
                if est is not None:
                    kept.append(Detection("block", _color_of(mask, color_prob), mask,
                                          max(d.score for d in column), est.position,
                                          est.orientation, est.size))
        return kept

    def _merge_duplicates(self, found: list[Detection], points: np.ndarray, normals: np.ndarray,
                          camera: CameraModel) -> list[Detection]:
        """One detection per physical object: a detection centred inside a larger one of the
        same kind (votes split over one object) joins it, posed again from both masks."""
        kept: list[Detection] = []
        for d in found:
            for i, k in enumerate(kept):
                width = min(float(k.size[0]), float(d.size[0]))
                if k.kind == d.kind and np.linalg.norm(k.position - d.position) < \
                        self.post.duplicate_share * width:
                    mask = k.mask | d.mask
                    est = self._estimate(k.kind, mask, points, normals, camera)
                    if est is not None:
                        kept[i] = Detection(k.kind, k.color, mask, k.score, est.position,
                                            est.orientation, est.size)
                    break
            else:
                kept.append(d)
        return kept

    def _estimate(self, kind: str, mask: np.ndarray, points: np.ndarray, normals: np.ndarray,
                  camera: CameraModel, band: tuple[float, float] | None = None
                  ) -> Estimate | None:
        """The pose from the mask's points (a block's within its known height `band`, if
        given); where the shape fit fails (a bowl mostly hidden by the arm, a block half in
        the fingers), a box around the points' middle 90 %."""
        tries = [mask]
        if kind == "block":
            # Outline pixels straddle the next surface: a block is posed from its mask's inner
            # pixels where enough stay; a small mask first from all of them, then, if that
            # gives a block larger than any, from the inner ones.
            inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            if inner.sum() >= MIN_INNER_PIXELS:
                tries = [inner] if mask.sum() >= 60 or band is not None else [mask, inner]
        for i, pixels in enumerate(tries):
            largest = 0.09 if i == len(tries) - 1 else self.post.max_block_edge
            pts, nrm = points[pixels], normals[pixels]
            keep = np.isfinite(pts).all(axis=1)
            if kind == "block":
                side = np.abs(nrm[:, 2]) < SIDEWAYS  # False where the normal is unknown
                keep &= (pts[:, 2] >= TABLE_LEVEL) | side
            pts, nrm = pts[keep], nrm[keep]
            if len(pts) < 6:
                return None
            if kind == "bowl":
                est = estimate_bowl(pts, self.priors.bowl_diameter, self.priors.bowl_height)
                fits = est is not None and plausible(est, pts, nrm)
            else:
                est = estimate_block(pts, camera.eye, nrm, self.priors.block_sizes, band)
                fits = est is not None and 0.015 <= est.size[0] <= largest
            if fits:
                return est
        lo, hi = np.percentile(pts, [5, 95], axis=0)
        return Estimate(kind, (lo + hi) / 2, hi - lo, 0.0)


def _partition(mask: np.ndarray, points: np.ndarray, normals: np.ndarray,
               labeller: Callable[[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]],
                                  np.ndarray]) -> list[np.ndarray]:
    """`mask` cut into the parts `labeller` gives its inner pixels' (points, normals, (rows,
    columns)) (labels 0, 1, …); the outline and pixels without a depth reading join the part
    of the nearest inner pixel. `[mask]` when the labeller finds one part."""
    v, u = np.nonzero(mask)
    pts = points[v, u]
    inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    valid = np.isfinite(pts).all(axis=1) & inner[v, u]  # outline pixels see what is behind
    if valid.sum() < 2:
        return [mask]
    labels = labeller(pts[valid], normals[v, u][valid], (v[valid], u[valid]))
    if labels.max() == 0:
        return [mask]
    every = np.empty(len(v), int)
    every[valid] = labels
    if not valid.all():
        seen = np.column_stack([v[valid], u[valid]])
        hole = np.column_stack([v[~valid], u[~valid]])
        nearest = ((hole[:, None] - seen[None]) ** 2).sum(-1).argmin(axis=1)
        every[~valid] = labels[nearest]
    parts = []
    for label in range(labels.max() + 1):
        part = np.zeros_like(mask)
        part[v[every == label], u[every == label]] = True
        parts.append(part)
    return parts


def _columns(blocks: list[Detection], share: float) -> list[list[Detection]]:
    """The blocks grouped into columns: chains of centres closer across (x, y) than `share` of
    the smaller block's width."""
    group = list(range(len(blocks)))

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for i, a in enumerate(blocks):
        for j in range(i):
            b = blocks[j]
            if np.linalg.norm(a.position[:2] - b.position[:2]) < share * min(a.size[0], b.size[0]):
                group[root(i)] = root(j)
    columns: dict[int, list[Detection]] = {}
    for i, d in enumerate(blocks):
        columns.setdefault(root(i), []).append(d)
    return list(columns.values())


def _full_resolution(low: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A (h, w) output map at the frame's (H, W) pixels (nearest)."""
    rows = np.arange(shape[0]) * low.shape[0] // shape[0]
    cols = np.arange(shape[1]) * low.shape[1] // shape[1]
    return low[rows[:, None], cols[None, :]]


def _color_of(mask: np.ndarray, color_prob: np.ndarray) -> str:
    """The colour word a full-resolution mask's pixels vote for on the (C, h, w) output."""
    v, u = np.nonzero(mask)
    h, w = color_prob.shape[1:]
    votes = color_prob[:, v * h // mask.shape[0], u * w // mask.shape[1]].mean(axis=1)
    return list(COLORS)[int(votes.argmax())]


def split_by_color(instances: np.ndarray, kinds: list[int], color_map: np.ndarray,
                   post: PostConfig) -> tuple[np.ndarray, list[int]]:
    """Instances whose pixels hold two colour words in strength (a tower of two colours, two
    touching blocks whose votes met) split into one instance per such colour; the pixels of
    weaker colours (outlines) join the largest part."""
    out, out_kinds = np.zeros_like(instances), []
    for k, kind in enumerate(kinds, start=1):
        where = instances == k
        colors, counts = np.unique(color_map[where], return_counts=True)
        strong = colors[counts >= max(post.min_split_pixels, post.min_split_share * where.sum())]
        strong = strong[np.argsort(-counts[np.isin(colors, strong)])]
        if len(strong) <= 1:
            out_kinds.append(kind)
            out[where] = len(out_kinds)
            continue
        first = len(out_kinds) + 1
        for c in strong:
            out_kinds.append(kind)
            out[where & (color_map == c)] = len(out_kinds)
        out[where & ~np.isin(color_map, strong)] = first
    return out, out_kinds


def group_instances(kind_map: np.ndarray, offsets: np.ndarray,
                    post: PostConfig) -> tuple[np.ndarray, list[int]]:
    """Instance ids from per-pixel kinds and centre offsets.

    Args:
        kind_map: (h, w) int, index into `KIND_CLASSES` (0 = background).
        offsets: (2, h, w) float, (dx, dy) in pixels from each pixel to its object's centre.
        post: thresholds.

    Returns:
        (h, w) int32 instance ids (0 = none) and the `KIND_CLASSES` index of each id (1-based
        ids: entry i is id i + 1).
    """
    h, w = kind_map.shape
    instances = np.zeros((h, w), np.int32)
    kinds: list[int] = []
    for kind in range(1, len(KIND_CLASSES)):
        v, u = np.nonzero(kind_map == kind)
        if len(v) == 0:
            continue
        tx = np.clip(u + offsets[0, v, u], 0, w - 1)
        ty = np.clip(v + offsets[1, v, u], 0, h - 1)
        votes = np.bincount(np.round(ty).astype(int) * w + np.round(tx).astype(int),
                            minlength=h * w).reshape(h, w).astype(np.float32)
        smooth = cv2.GaussianBlur(votes, (0, 0), 1.0) * (2 * np.pi)  # mass of a blurred point: 1
        window = np.ones((post.peak_window,) * 2, np.uint8)
        peaks = (smooth >= cv2.dilate(smooth, window)) & (smooth >= post.min_votes)
        py, px = np.nonzero(peaks)
        if len(py) == 0:
            continue
        strongest = np.argsort(-smooth[py, px])[:post.max_peaks]
        py, px = py[strongest], px[strongest]
        d2 = (tx[:, None] - px[None]) ** 2 + (ty[:, None] - py[None]) ** 2  # (P, peaks)
        nearest = d2.argmin(axis=1)
        close = d2[np.arange(len(v)), nearest] <= post.max_vote_distance ** 2
        ids = len(kinds) + 1 + nearest
        instances[v[close], u[close]] = ids[close]
        kinds += [kind] * len(py)
    return _compact(instances, kinds)


def _compact(instances: np.ndarray, kinds: list[int]) -> tuple[np.ndarray, list[int]]:
    """Renumbers ids so that every id holds pixels."""
    present = np.unique(instances[instances > 0])
    lut = np.zeros(len(kinds) + 1, np.int32)
    lut[present] = np.arange(1, len(present) + 1)
    return lut[instances], [kinds[i - 1] for i in present]


def _upsample_instances(instances: np.ndarray, kind_logits: torch.Tensor,
                        shape: tuple[int, int], kinds: list[int]) -> np.ndarray:
    """(H, W) instance ids at full resolution: the nearest low-resolution id where the
    bilinearly upsampled kind map agrees with that id's kind."""
    # torch.max over the class axis: argmax over a leading axis takes ~10x longer on the CPU
    full_kind = torch.max(F.interpolate(kind_logits, size=shape, mode="bilinear",
                                        align_corners=False)[0], dim=0).indices.numpy()
    ids = cv2.resize(instances, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    lut = np.array([0, *kinds])
    return np.where((ids > 0) & (full_kind == lut[ids]), ids, 0)


def resolve_checkpoint(folder: str | Path | None) -> Path:
    """The checkpoint folder: `folder` as given or under the share directory, else the shipped
    one.

    Raises:
        FileNotFoundError: naming where it looked.
    """
    from embodied_mm.paths import share_dir

    candidates = [share_dir() / CHECKPOINT] if folder is None else [Path(folder),
                                                                     share_dir() / folder]
    for path in candidates:
        if (path / "model.safetensors").is_file():
            return path
    raise FileNotFoundError(f"no learned perception checkpoint (model.safetensors) in "
                            f"{', '.join(str(c) for c in candidates)}; train one with "
                            "`embodied-mm perception train`")


def save_checkpoint(model: InstanceNet, folder: Path, net: NetConfig, extra: dict) -> None:
    """Writes `model.safetensors` (float16 weights) and `config.json` into `folder`."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if v.is_floating_point() else v).contiguous()
             for k, v in model.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(
        {"format": FORMAT, "net": asdict(net), **extra}, indent=2))
    # safetensors writes 0600 whatever the umask: give the weights the config's mode
    os.chmod(folder / "model.safetensors", (folder / "config.json").stat().st_mode)


SAME_PLACE = 0.015  # m: a detection this close to an unmatched known object of its kind is it
INFERENCE_THREADS = 1  # a small net on one frame: more threads lose to a busy CPU's other work


@lru_cache(maxsize=4)
def _shared(folder: str | None) -> LearnedDetector:
    torch.set_num_threads(INFERENCE_THREADS)
    return LearnedDetector.load(folder)


def detect_learned(rgb: np.ndarray, depth: np.ndarray, camera: CameraModel,
                   known: Sequence[ObjectState | Mapping] = (),
                   checkpoint: str | Path | None = None,
                   masks: dict[str, np.ndarray] | None = None,
                   late: Collection[str] = (),
                   robot: np.ndarray | None = None) -> list[ObjectState]:
    """Objects found by the learned model, as `ObjectState`s (the interface of `detect_color`).

    Args:
        rgb: (H, W, 3) uint8.
        depth: (H, W) float32 eye-space depth, m (<= 0 or NaN: no reading).
        camera: the camera that took the frame.
        known: objects seen before (`ObjectState`s or object-table mappings): the nearest
            detection of the same colour and kind keeps its name.
        checkpoint: model folder; the shipped one by default (loaded once per process).
        masks: if given, filled with each returned object's name → (H, W) bool mask (as
            `detect_color`'s).
        late: names of `known` objects first seen after the scene began (see
            `name_detections`).
        robot: (H, W) bool, the robot's own pixels (`LearnedDetector.detect`).

    Returns:
        The objects; known ones keep their names, new ones take the lowest free `obj_<n>`.
    """
    model = _shared(None if checkpoint is None else str(checkpoint))
    found = model.detect(rgb, depth, camera, robot)
    return name_detections(found, known, masks, late)


def _naming_order(d: Detection) -> tuple:
    """New objects are named in colour-mode's order: (colour, kind) in vocabulary order, then
    left to right, so both perception modes give a scene's objects the same names."""
    return (list(COLORS).index(d.color), KINDS.index(d.kind), float(d.position[1]),
            float(d.position[0]))


def name_detections(found: Sequence[Detection], known: Sequence[ObjectState | Mapping] = (),
                    masks: dict[str, np.ndarray] | None = None,
                    late: Collection[str] = ()) -> list[ObjectState]:
    """Detections as `ObjectState`s named after `known` objects of the same colour and kind
    (nearest first), then after a known object of the same kind left unmatched within
    `SAME_PLACE` (it keeps its colour); the others take the lowest `obj_<n>` no known object
    has, in `_naming_order`. Sorted by name index. `masks`, if given, is filled with name → the
    detection's mask.

    Known objects named in `late` (first seen after the scene began) choose only after the
    others: a detection of a scene object half hidden by the arm can be taken for two, and the
    spurious one, once known, must not take the real object's name when it is seen whole again
    (a goal object would vanish under a new name)."""
    rows = [(k["name"], k["kind"], k["color"], np.asarray(k.get("position", (0, 0, 0)), float))
            if isinstance(k, Mapping) else (k.name, k.kind, k.color, np.asarray(k.position))
            for k in known]
    pairs = sorted(((rows[j][0] in late, float(np.linalg.norm(d.position - pos)), i, j)
                    for i, d in enumerate(found) for j, (_, kind, color, pos) in enumerate(rows)
                    if (d.kind, d.color) == (kind, color)), key=lambda t: t[:2])
    names: dict[int, str] = {}
    colors: dict[int, str] = {}
    taken: set[int] = set()
    for _, _, i, j in pairs:
        if i not in names and j not in taken:
            names[i] = rows[j][0]
            taken.add(j)
    # A detection of another colour word where a known object of its kind is, and that object
    # found nowhere else, is that object seen in a worse light (the lower block of a tower
    # tinted by the one on it): objects do not swap places between frames.
    same_place = sorted(((rows[j][0] in late, float(np.linalg.norm(d.position - pos)), i, j)
                         for i, d in enumerate(found) for j, (_, kind, _, pos) in enumerate(rows)
                         if i not in names and j not in taken and d.kind == kind),
                        key=lambda t: t[:2])
    for _, distance, i, j in same_place:
        if distance < SAME_PLACE and i not in names and j not in taken:
            names[i], colors[i] = rows[j][0], rows[j][2]
            taken.add(j)
    # A known name is never given to another object, even one not seen in this frame.
    used = {int(n[4:]) for n in [*names.values(), *(row[0] for row in rows)]
            if n.startswith("obj_") and n[4:].isdigit()}
    free = (n for n in range(1, len(found) + len(used) + 2) if n not in used)
    for i in sorted((i for i in range(len(found)) if i not in names),
                    key=lambda i: _naming_order(found[i])):
        names[i] = f"obj_{next(free)}"
    objects = [ObjectState(names[i], d.kind, colors.get(i, d.color), d.position, d.orientation,
                           d.size) for i, d in enumerate(found)]
    if masks is not None:
        masks.update((names[i], d.mask) for i, d in enumerate(found))
    return sorted(objects, key=lambda o: int(o.name[4:]) if o.name[4:].isdigit() else 1 << 30)
