"""Labelled RGB-D frames for the learned perception: rendered with ground truth, or your own.

One frame is two files in a folder, `NNNNNN.npz` and `NNNNNN.json` (format `FORMAT`):

- `NNNNNN.npz`: `rgb` (H, W, 3) uint8; `depth` (H, W) uint16 millimetres, 0 = no reading (what
  a `16UC1` driver publishes); `instances` (H, W) uint8, 0 = background (table, arm, anything
  else), k = the k-th entry of the JSON's `objects`.
- `NNNNNN.json`: `camera` {`width`, `height`, `K` (9 numbers, row-major), `cam_to_world` (16
  numbers, row-major, optical frame x right, y down, z forward → robot base)}; `objects`: one
  {`kind`, `color`, `pixels`, and where known `position` (3,) and `size` (3,) in m, the box
  centre and extent in the base frame, and `orientation` (quaternion xyzw)}; `scene` and
  `seed` (rendered frames only); where known, the arm's `joints` (7 angles, rad) and
  `gripper_width` (m) when the frame was taken, for the robot self-filter (`self_filter.py`).

An `index.json` beside the frames names the format, split and frame count. Training needs
`rgb`, `depth`, `instances`, `camera`, and each object's `kind` and `color`; `position` and
`size` are only for evaluation. Objects with fewer than `MIN_VISIBLE` pixels are marked
`"hidden": true` (not expected to be detected).

Rendered frames come from `render_frame(world, seed)`: a scene of kind `SCENE_KINDS[seed % 7]`
(`scenes.py`), a render-time variation (`sim.randomize`) and image-space randomisation
(`augment.py`), all drawn from the seed. Training uses seeds from 0, evaluation from
`HELDOUT_SEED`, so held-out scenes are never trained on.

Example:
    embodied-mm perception gen-data --frames 4000 --out outputs/perception/train
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from embodied_mm.perception.augment import augment_frame
from embodied_mm.perception.geometry import CameraModel
from embodied_mm.perception.scenes import SCENE_KINDS, pose_scene

FORMAT = "embodied_mm.perception.frames/1"
INDEX_FILE = "index.json"
HELDOUT_SEED = 1_000_000  # evaluation seeds start here; training seeds stay below
MIN_VISIBLE = 12  # px at 320x240 (scaled with the image area): fewer is hidden
SPLITS = {"train": 0, "heldout": HELDOUT_SEED}


@dataclass
class Frame:
    """One labelled RGB-D frame (see the module docstring for the fields)."""

    rgb: np.ndarray  # (H, W, 3) uint8
    depth_mm: np.ndarray  # (H, W) uint16, 0 = no reading
    instances: np.ndarray  # (H, W) uint8, 0 = background, k = objects[k - 1]
    camera: CameraModel
    objects: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)  # scene kind, seed

    @property
    def depth(self) -> np.ndarray:
        """(H, W) float32 depth in m, NaN where there is no reading."""
        depth = self.depth_mm.astype(np.float32) / 1000.0
        depth[self.depth_mm == 0] = np.nan
        return depth

    def visible(self) -> list[int]:
        """Indices into `objects` of the objects expected to be detected."""
        return [i for i, o in enumerate(self.objects) if not o.get("hidden", False)]


def min_visible(shape: tuple[int, ...]) -> int:
    """Pixels an object needs to count as visible in an image of `shape`."""
    return max(4, round(MIN_VISIBLE * shape[0] * shape[1] / (320 * 240)))


def camera_config(camera: tuple[int, int] | None = None, fov_deg: float | None = None,
                  eye: Sequence[float] | None = None, target: Sequence[float] | None = None):
    """The sim camera with another image size (width, height), vertical field of view,
    position or look-at point where given."""
    from sim.camera import CameraConfig

    changes: dict = {"fov_deg": fov_deg, "eye": eye and tuple(eye),
                     "target": target and tuple(target)}
    if camera is not None:
        changes.update(width=camera[0], height=camera[1])
    return replace(CameraConfig(), **{k: v for k, v in changes.items() if v is not None})


def render_frame(world, seed: int, augment: bool = True, vary: bool = True) -> Frame:
    """The labelled frame of `seed`: scene, render variation and image noise drawn from it.

    Args:
        world: a `sim.world.TabletopWorld` (reset here); its camera gives the image size.
        seed: the frame's seed; `seed % len(SCENE_KINDS)` picks the scene kind.
        augment: add image-space randomisation (colour, blur, noise, depth noise and holes).
        vary: randomise light, table tint and camera pose; False renders the sim's own
            camera and light (the frames the sim publishes).
    """
    from sim.randomize import RenderVariation, render_varied

    rng = np.random.default_rng(seed)
    kind = SCENE_KINDS[seed % len(SCENE_KINDS)]
    pose_scene(world, kind, rng)
    variation = RenderVariation.sample(rng, world.camera.config)
    if vary:
        rgb, depth, seg = render_varied(world, variation)
    else:
        rgb, depth, seg = world.render()
        variation = RenderVariation.nominal(world.camera.config)
    if augment:
        rgb, depth_mm = augment_frame(rng, rgb, depth, table=seg == world.table)
    else:
        depth_mm = np.clip(np.round(depth * 1000), 0, 65535).astype(np.uint16)
    c = variation.camera
    camera = CameraModel.from_camera_info(c.intrinsics, c.width, c.height, c.eye, c.target, c.up)
    instances = np.zeros(seg.shape, np.uint8)
    objects = []
    for k, state in enumerate(world.object_states(), start=1):
        mask = seg == state.mask_id
        instances[mask] = k
        objects.append({"kind": state.kind, "color": state.color,
                        "position": np.round(state.position, 5).tolist(),
                        "size": np.round(state.size, 5).tolist(),
                        "orientation": np.round(state.orientation, 5).tolist(),
                        "pixels": int(mask.sum()),
                        "hidden": bool(mask.sum() < min_visible(seg.shape))})
    q, width = world.joint_state()
    return Frame(rgb, depth_mm, instances, camera, objects,
                 {"scene": kind, "seed": seed, "joints": np.round(q, 5).tolist(),
                  "gripper_width": round(width, 5)})


def save_frame(frame: Frame, folder: Path, number: int) -> None:
    """Writes `frame` as `folder/NNNNNN.npz` + `.json`."""
    stem = folder / f"{number:06d}"
    np.savez_compressed(stem.with_suffix(".npz"), rgb=frame.rgb, depth=frame.depth_mm,
                        instances=frame.instances)
    camera = {"width": frame.camera.width, "height": frame.camera.height,
              "K": np.round(frame.camera.K, 6).ravel().tolist(),
              "cam_to_world": np.round(frame.camera.cam_to_world, 6).ravel().tolist()}
    stem.with_suffix(".json").write_text(json.dumps(
        {"camera": camera, "objects": frame.objects, **frame.meta}))


def load_frame(stem: Path) -> Frame:
    """Reads `stem.npz` + `stem.json`.

    Raises:
        ValueError: naming the file and what is wrong with it.
    """
    try:
        meta = json.loads(stem.with_suffix(".json").read_text())
        with np.load(stem.with_suffix(".npz")) as arrays:
            rgb, depth, instances = arrays["rgb"], arrays["depth"], arrays["instances"]
        cam = meta["camera"]
        camera = CameraModel(int(cam["width"]), int(cam["height"]), np.reshape(cam["K"], (3, 3)),
                             np.reshape(cam["cam_to_world"], (4, 4)))
        objects = meta["objects"]
    except (OSError, KeyError, ValueError) as err:
        raise ValueError(f"{stem}: not a perception frame ({err})") from None
    shape = (camera.height, camera.width)
    if rgb.shape != (*shape, 3) or depth.shape != shape or instances.shape != shape:
        raise ValueError(f"{stem}: rgb {rgb.shape}, depth {depth.shape}, instances "
                         f"{instances.shape} do not match the camera's {shape}")
    if depth.dtype != np.uint16 or instances.max(initial=0) > len(objects):
        raise ValueError(f"{stem}: depth must be uint16 mm and instance ids <= the "
                         f"{len(objects)} objects")
    rest = {k: v for k, v in meta.items() if k not in ("camera", "objects")}
    return Frame(rgb, depth, instances, camera, objects, rest)


def frame_stems(folder: Path) -> list[Path]:
    """The frames in `folder`, in order.

    Raises:
        FileNotFoundError: no frames there.
    """
    stems = sorted(path.with_suffix("") for path in Path(folder).glob("*.npz"))
    if not stems:
        raise FileNotFoundError(f"no perception frames (*.npz + *.json) in {folder}")
    return stems


def iter_frames(folder: Path) -> Iterator[Frame]:
    """Every frame in `folder`."""
    for stem in frame_stems(folder):
        yield load_frame(stem)


def write_index(folder: Path, split: str, frames: int, first_seed: int) -> None:
    """The folder's `index.json`."""
    (folder / INDEX_FILE).write_text(json.dumps(
        {"format": FORMAT, "split": split, "frames": frames, "first_seed": first_seed,
         "scene_kinds": list(SCENE_KINDS)}, indent=2))
