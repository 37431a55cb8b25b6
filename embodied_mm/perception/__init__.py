"""Object perception from one RGB-D frame: pure numpy/OpenCV (no ROS, no simulator).

`detect_gt` measures the sim's known objects through their segmentation masks; `detect_color`
finds objects by colour with any RGB-D camera. Both estimate poses with `estimate.estimate`.
"""

from embodied_mm.perception.detectors import detect_color, detect_gt
from embodied_mm.perception.geometry import CameraModel

__all__ = ["CameraModel", "detect_color", "detect_gt"]
