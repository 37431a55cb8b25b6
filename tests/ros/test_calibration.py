"""Camera calibration files: quaternion and matrix forms give the same pose, the `link`
convention is turned into the optical frame, and bad files are refused naming file and key."""

from __future__ import annotations

import numpy as np
import pytest

from embodied_mm.perception.geometry import look_at
from embodied_mm.robots.kinematics import rotation_to_quaternion
from embodied_mm.ros.calibration import CalibrationError, load_camera_pose

SIM_POSE = look_at((1.15, 0.0, 0.75), (0.5, 0.0, 0.0), (0.0, 0.0, 1.0))


def _write(tmp_path, text: str):
    path = tmp_path / "camera.yaml"
    path.write_text(text)
    return path


def test_quaternion_and_matrix_forms_give_the_sim_cameras_pose(tmp_path):
    x, y, z = SIM_POSE[:3, 3]
    qx, qy, qz, qw = rotation_to_quaternion(SIM_POSE[:3, :3])
    path = _write(tmp_path, f"parent_frame: panda_link0\nchild_frame: camera_optical\n"
                            f"position: [{x}, {y}, {z}]\norientation: [{qx}, {qy}, {qz}, {qw}]\n")
    np.testing.assert_allclose(load_camera_pose(path), SIM_POSE, atol=1e-9)
    rows = ", ".join("[" + ", ".join(map(str, row)) + "]" for row in SIM_POSE)
    np.testing.assert_allclose(load_camera_pose(_write(tmp_path, f"matrix: [{rows}]\n")),
                               SIM_POSE, atol=1e-12)


def test_link_frame_is_turned_into_the_optical_frame(tmp_path):
    # camera_link at 1 m height looking along +x: the optical z is +x, x is -y, y is -z.
    pose = load_camera_pose(_write(tmp_path, "frame: link\nposition: [0, 0, 1]\n"
                                             "orientation: [0, 0, 0, 1]\n"))
    np.testing.assert_allclose(pose[:3, :3], [[0, 0, 1], [-1, 0, 0], [0, -1, 0]], atol=1e-12)
    np.testing.assert_allclose(pose[:3, 3], [0, 0, 1])


@pytest.mark.parametrize("text, match", [
    ("position: [1, 0, 1]\norientation: [0, 0, 0, 2]\n", "unit quaternion"),
    ("position: [1, 0]\norientation: [0, 0, 0, 1]\n", "position must be 3 finite numbers"),
    ("position: [1, 0, 1]\n", "orientation is missing"),
    ("position: [1, 0, 1]\norientation: [0, 0, 0, 1]\nmatrix: []\n", "either position"),
    ("matrix: [[2, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]\n", "rigid transform"),
    ("matrix: [[1, 0, 0], [0, 1, 0]]\n", "4 rows of 4"),
    ("frame: camera_link\nposition: [1, 0, 1]\norientation: [0, 0, 0, 1]\n", "frame must be"),
    ("positon: [1, 0, 1]\norientation: [0, 0, 0, 1]\n", "unknown key.*positon"),
    ("- 1\n- 2\n", "expected a mapping"),
    ("position: [1, 0, 1\n", "not YAML"),
])
def test_bad_calibration_files_are_refused_naming_file_and_key(tmp_path, text, match):
    path = _write(tmp_path, text)
    with pytest.raises(CalibrationError, match=match) as err:
        load_camera_pose(path)
    assert str(path) in str(err.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CalibrationError, match="nope.yaml: cannot read"):
        load_camera_pose(tmp_path / "nope.yaml")
