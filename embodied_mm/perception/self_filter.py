"""Robot self-filter: the pixels of a camera frame that show the robot's own body.

A detector sees the arm as well as the objects; where a white block stands against the white
links, its mask takes in pixels of the arm and its pose comes out centimetres off. The filter
renders the robot alone from its URDF at the joint positions measured when the frame was
taken, through the frame's camera (intrinsics and pose in the robot base frame;
`sim.robot_render`), and marks a pixel as the robot's where the rendered robot is there and
the camera sees nothing in front of it: observed depth no nearer than the rendered surface
less `tolerance`, or no reading. A block held in front of a finger, nearer the camera than
the finger by more than `tolerance`, stays an object's. The silhouette is not grown: on the
held-out perception scenes a one-pixel margin cut more off blocks held in the fingers than it
took off the arm (docs/perception.md).

Example:
    >>> import numpy as np
    >>> from embodied_mm.perception.geometry import from_camera_info, pybullet_intrinsics
    >>> from embodied_mm.robots.kinematics import HOME
    >>> cam = from_camera_info(pybullet_intrinsics(320, 240, 55.0), 320, 240,
    ...                        eye=(1.15, 0, 0.75), target=(0.5, 0, 0), up=(0, 0, 1))
    >>> robot = SelfFilter().mask(cam, np.full((240, 320), np.nan, np.float32), HOME, 0.08)
    >>> bool(robot.any())
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embodied_mm.perception.geometry import CameraModel


class SelfFilter:
    """Marks the robot's own pixels in RGB-D frames (see the module docstring).

    Args:
        urdf: the robot's URDF (base = robot base frame); the sim's Panda if None.
        tolerance: m; an observed surface nearer than the rendered robot by more than this is
            something in front of the robot, not the robot.
    """

    def __init__(self, urdf: str | Path | None = None, tolerance: float = 0.01) -> None:
        from sim.robot_render import RobotRenderer

        self.renderer = RobotRenderer(urdf)
        self.tolerance = tolerance

    def mask(self, camera: CameraModel, depth: np.ndarray, joints: Sequence[float],
             gripper_width: float) -> np.ndarray:
        """(H, W) bool: pixels of `depth` (eye-space, m; NaN or <= 0: no reading) that show
        the robot at `joints` (arm, URDF order) with its fingers `gripper_width` apart."""
        robot = self.renderer.depth(camera, joints, gripper_width)
        seen = np.isfinite(depth) & (depth > 0)
        behind = np.where(seen, depth, np.inf) >= robot - self.tolerance
        return np.isfinite(robot) & behind
