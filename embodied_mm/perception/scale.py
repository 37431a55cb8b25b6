"""The pixel scale the learned perception works at, whatever the camera's resolution, lens
and distance from the table.

The instance model learns what a block and a bowl look like at the pixel size the sim camera
gives them: 320×240 with a 55° vertical field of view (a focal length of 230 px), about a metre
from the table (232 px per metre there). A real RGB-D camera streams 640×480 or more, often
through a narrower lens, and may stand closer, so the same block covers two to three times as
many pixels, and the model's centre votes, peak windows and pixel thresholds no longer fit (at
640×480 held-out precision fell from 0.98 to 0.41; a camera 0.64 m from the table: 0.65).
Frames whose pixels per metre at the table (focal length over the distance along the optical
axis to the table plane) are off by more than the training frames' own spread are therefore
resampled to the trained scale: everything the detector does in pixels keeps its meaning, and
masks are mapped back to the camera's resolution at the end. Training applies the same
resampling to a user's own frames (`train_perception.frame_targets`).

Example:
    >>> work = WorkingFrame.of(rgb, depth, camera)  # doctest: +SKIP
    >>> found = model.detect(work.rgb, work.depth, work.camera)  # doctest: +SKIP
    >>> full_mask = work.full(found[0].mask)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from embodied_mm.perception.geometry import CameraModel, pybullet_intrinsics

# px: fy of the sim camera the shipped weights were trained with (320×240, 55° vertical).
WORK_FOCAL_PX = float(pybullet_intrinsics(320, 240, 55.0)[1, 1])
# m: that camera's distance to the table along its optical axis (eye (1.15, 0, 0.75) looking
# at (0.5, 0, 0) on the table plane).
WORK_DISTANCE_M = math.hypot(1.15 - 0.5, 0.75)
WORK_PX_PER_M = WORK_FOCAL_PX / WORK_DISTANCE_M  # px per metre of table at the image centre
# The training frames' camera jitter (±4 cm eye and target, ±2° field of view) spreads their
# scale over 0.89-1.13 of it: a camera within this share of it is used as it is (resampling
# the outer 4 % of held-out frames to 1.0 cost a little: p90 position error 8.5 -> 8.8 mm).
SCALE_TOLERANCE = 0.12


def table_distance(camera: CameraModel) -> float | None:
    """m from the camera to the table plane (z = 0) along its optical axis; None when the
    camera does not look down at it."""
    axis, eye = camera.cam_to_world[:3, 2], camera.cam_to_world[:3, 3]
    if axis[2] > -0.05 or eye[2] <= 0:
        return None
    return float(-eye[2] / axis[2])


def working_scale(camera: CameraModel) -> float:
    """The factor a frame of `camera` is resized by so that the table has the trained pixels
    per metre (1.0 when it is close enough already). A camera that does not look down at the
    table is scaled by its focal length alone."""
    distance = table_distance(camera) or WORK_DISTANCE_M
    scale = WORK_PX_PER_M * distance / float(camera.K[1, 1])
    return 1.0 if abs(scale - 1.0) <= SCALE_TOLERANCE else scale


def scaled_camera(camera: CameraModel, width: int, height: int) -> CameraModel:
    """`camera` seen through an image resized to `width` × `height` (pixel centres kept)."""
    sx, sy = width / camera.width, height / camera.height
    K = camera.K.copy()
    K[0, 0] *= sx
    K[1, 1] *= sy
    K[0, 2] = (K[0, 2] + 0.5) * sx - 0.5
    K[1, 2] = (K[1, 2] + 0.5) * sy - 0.5
    return CameraModel(width, height, K, camera.cam_to_world)


def resize_nearest(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """`image` (labels, masks, depth) resized by nearest neighbour, so no value is invented
    (a depth edge stays an edge; NaN stays NaN); its dtype is kept."""
    src = image.view(np.uint8) if image.dtype == bool else image
    out = cv2.resize(src, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
    return out.view(bool) if image.dtype == bool else out


@dataclass(frozen=True)
class WorkingFrame:
    """One frame at the working pixel scale, and the way back to the camera's resolution."""

    rgb: np.ndarray  # (h, w, 3) uint8
    depth: np.ndarray  # (h, w) float32 m, NaN or <= 0: no reading
    camera: CameraModel  # the camera as seen through the resized image
    shape: tuple[int, int]  # (H, W) of the camera's own images

    @property
    def resized(self) -> bool:
        """Whether the frame was resampled at all."""
        return self.depth.shape != self.shape

    @classmethod
    def of(cls, rgb: np.ndarray, depth: np.ndarray, camera: CameraModel) -> WorkingFrame:
        """`rgb` and `depth` of `camera` at the working scale (the arrays themselves when the
        camera is close enough to it)."""
        shape = depth.shape[:2]
        scale = working_scale(camera)
        if scale == 1.0:
            return cls(rgb, depth, camera, shape)
        # Twice a multiple of 8, as the trained 320×240: the network's input is then exactly
        # half the working frame (`learned.input_size`), as in training.
        width = 16 * max(1, round(camera.width * scale / 16))
        height = 16 * max(1, round(camera.height * scale / 16))
        shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        return cls(cv2.resize(rgb, (width, height), interpolation=shrink),
                   resize_nearest(np.ascontiguousarray(depth, np.float32), width, height),
                   scaled_camera(camera, width, height), shape)

    def work(self, image: np.ndarray) -> np.ndarray:
        """A camera-resolution label image or mask at the working scale."""
        if not self.resized:
            return image
        return resize_nearest(image, self.depth.shape[1], self.depth.shape[0])

    def full(self, image: np.ndarray) -> np.ndarray:
        """A working-scale label image or mask at the camera's resolution."""
        if not self.resized:
            return image
        return resize_nearest(image, self.shape[1], self.shape[0])
