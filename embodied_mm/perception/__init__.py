"""Object perception from one RGB-D frame, in numpy and OpenCV (no ROS, no simulator).

`geometry` back-projects depth pixels to world points; `estimate` poses one object from its
points; `detectors` finds the objects: `detect_gt` through the sim's segmentation ids,
`detect_color` by colour with any RGB-D camera.

Example:
    >>> from embodied_mm.perception import CameraModel, detect_color
    >>> import numpy as np
    >>> K = [[230.5, 0, 160], [0, 230.5, 119], [0, 0, 1]]
    >>> camera = CameraModel.from_camera_info(K, 320, 240, (1.15, 0, 0.75), (0.5, 0, 0))
    >>> rgb, depth = np.zeros((240, 320, 3), np.uint8), np.ones((240, 320), np.float32)
    >>> detect_color(rgb, depth, camera)
    []
"""

from embodied_mm.perception.detectors import ColorParams, classify_colors, detect_color, detect_gt
from embodied_mm.perception.estimate import (
    Estimate,
    ShapePriors,
    cut_column,
    estimate_block,
    estimate_bowl,
    plausible,
    split_blocks,
)
from embodied_mm.perception.geometry import (
    CameraModel,
    from_camera_info,
    pybullet_intrinsics,
    surface_normals,
)

__all__ = [
    "CameraModel",
    "ColorParams",
    "Estimate",
    "ShapePriors",
    "classify_colors",
    "cut_column",
    "detect_color",
    "detect_gt",
    "estimate_block",
    "estimate_bowl",
    "from_camera_info",
    "plausible",
    "pybullet_intrinsics",
    "split_blocks",
    "surface_normals",
]
