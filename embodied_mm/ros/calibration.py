"""Camera extrinsics from a calibration file: the camera's pose in the robot base frame.

No tf2 in this stack: perception back-projects depth into the base frame with one fixed pose,
read here from a YAML file (docs/hardware.md has the format and how to get the numbers):

    frame: optical                    # optical (default) or link
    position: [1.15, 0.0, 0.75]       # m, in the robot base frame
    orientation: [x, y, z, w]         # unit quaternion, ROS order

or, instead of `position`/`orientation`, `matrix:` with the 4×4 homogeneous transform (rows).
`frame: optical` is the optical frame (x right, y down, z forward: `*_optical_frame`);
`frame: link` is the camera body frame of REP 103 (x forward, y left, z up: `camera_link`,
what `easy_handeye` and `static_transform_publisher` lines often give). `parent_frame` and
`child_frame` may name the frames for the reader; they are not checked. Any other key, a
quaternion that is not unit length or a matrix that is not a rigid transform is refused with
a `CalibrationError` naming the file and key. rclpy-free.

Example:
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "cam.yaml"
    >>> _ = f.write_text("position: [1, 0, 1]\\norientation: [0, 0, 0, 1]\\n")
    >>> load_camera_pose(f)[:3, 3].tolist()
    [1.0, 0.0, 1.0]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from embodied_mm.robots.kinematics import quaternion_matrix

FRAMES = ("optical", "link")
KEYS = {"frame", "position", "orientation", "matrix", "parent_frame", "child_frame"}
# Columns: the optical frame's axes in the REP 103 camera body frame (x fwd, y left, z up).
LINK_TO_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
UNIT_TOLERANCE = 1e-3  # a quaternion's norm, a rotation's orthonormality


class CalibrationError(ValueError):
    """A calibration file that cannot be used; the text names the file and the key."""


def pose_matrix(position, orientation, frame: str = "optical") -> np.ndarray:
    """(4, 4) optical-frame-to-base transform from a position (m) and an xyzw quaternion of
    `frame` (`optical` or `link`); raises `ValueError` naming the bad value."""
    position = _vector(position, 3, "position")
    q = _vector(orientation, 4, "orientation")
    norm = float(np.linalg.norm(q))
    if abs(norm - 1.0) > UNIT_TOLERANCE:
        raise ValueError(f"orientation must be a unit quaternion (x, y, z, w), "
                         f"got {q.tolist()} of norm {norm:.4f}")
    return _pose(quaternion_matrix(q / norm), position, frame)


def matrix_pose(matrix, frame: str = "optical") -> np.ndarray:
    """(4, 4) optical-frame-to-base transform from a 4×4 rigid transform of `frame`."""
    m = np.asarray(matrix, dtype=float) if _numeric(matrix) else None
    if m is None or m.shape != (4, 4) or not np.all(np.isfinite(m)):
        raise ValueError(f"matrix must be 4 rows of 4 finite numbers, got {matrix!r}")
    rot = m[:3, :3]
    if not np.allclose(m[3], [0, 0, 0, 1]) or \
            not np.allclose(rot @ rot.T, np.eye(3), atol=UNIT_TOLERANCE) or \
            np.linalg.det(rot) < 0:
        raise ValueError("matrix must be a rigid transform: a rotation (orthonormal, "
                         "determinant +1) and a translation over a last row of [0, 0, 0, 1]")
    return _pose(rot, m[:3, 3], frame)


def load_camera_pose(path: str | Path) -> np.ndarray:
    """(4, 4) transform from the camera's optical frame to the robot base frame, read from a
    calibration YAML file; raises `CalibrationError` naming the file and what is wrong."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise CalibrationError(f"{path}: cannot read the camera calibration: "
                               f"{err.strerror}") from None
    except yaml.YAMLError as err:
        raise CalibrationError(f"{path}: not YAML: {err}") from None
    if not isinstance(data, dict):
        raise CalibrationError(f"{path}: expected a mapping with position and orientation "
                               f"(or matrix), got {type(data).__name__}")
    unknown = sorted(set(map(str, data)) - KEYS)
    if unknown:
        raise CalibrationError(f"{path}: unknown key(s) {', '.join(unknown)}; "
                               f"allowed: {', '.join(sorted(KEYS))}")
    frame = data.get("frame", "optical")
    if frame not in FRAMES:
        raise CalibrationError(f"{path}: frame must be one of {', '.join(FRAMES)}, "
                               f"got {frame!r}")
    has_pose = "position" in data or "orientation" in data
    if has_pose == ("matrix" in data):
        raise CalibrationError(f"{path}: give either position and orientation, or matrix")
    try:
        if "matrix" in data:
            return matrix_pose(data["matrix"], frame)
        missing = [k for k in ("position", "orientation") if k not in data]
        if missing:
            raise ValueError(f"{missing[0]} is missing")
        return pose_matrix(data["position"], data["orientation"], frame)
    except ValueError as err:
        raise CalibrationError(f"{path}: {err}") from None


def _pose(rot: np.ndarray, position: np.ndarray, frame: str) -> np.ndarray:
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {', '.join(FRAMES)}, got {frame!r}")
    pose = np.eye(4)
    pose[:3, :3] = rot @ LINK_TO_OPTICAL if frame == "link" else rot
    pose[:3, 3] = position
    return pose


def _numeric(value) -> bool:
    try:
        np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return False
    return True


def _vector(value, n: int, key: str) -> np.ndarray:
    v = np.asarray(value, dtype=float) if _numeric(value) else None
    if v is None or v.shape != (n,) or not np.all(np.isfinite(v)):
        raise ValueError(f"{key} must be {n} finite numbers, got {value!r}")
    return v
