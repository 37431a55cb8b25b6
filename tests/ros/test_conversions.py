"""Message conversions and trajectory following: malformed input is rejected with a reason."""

from __future__ import annotations

import numpy as np
import pytest

from embodied_mm.ros.conversions import (
    PANDA,
    JointNames,
    MessageError,
    depth_from_msg,
    depth_to_msg,
    image_from_msg,
    image_to_msg,
    joint_state_from_msg,
    joint_state_msg,
    objects_from_markers,
    objects_to_markers,
    trajectory_msg,
)
from embodied_mm.ros.mcap_schema import schema_text
from embodied_mm.ros.topics import ARM_JOINTS, TOPIC_TYPES
from embodied_mm.ros.trajectory import TrajectoryFollower
from embodied_mm.types import ObjectState

pytestmark = pytest.mark.ros


@pytest.mark.parametrize("array, encoding", [
    (np.arange(24, dtype=np.uint8).reshape(2, 4, 3), "rgb8"),
    (np.linspace(0, 2, 8, dtype=np.float32).reshape(2, 4), "32FC1"),
    (np.arange(8, dtype=np.int32).reshape(2, 4), "32SC1"),
    (np.arange(8, dtype=np.uint16).reshape(2, 4) * 1000, "16UC1"),
])
def test_image_round_trip(array, encoding):
    np.testing.assert_array_equal(image_from_msg(image_to_msg(array, encoding)), array)


def test_bad_images_are_rejected_with_reason():
    msg = image_to_msg(np.zeros((4, 4, 3), np.uint8), "rgb8")
    msg.encoding = "bgra16"
    with pytest.raises(MessageError, match="unsupported image encoding"):
        image_from_msg(msg)
    msg = image_to_msg(np.zeros((4, 4, 3), np.uint8), "rgb8")
    msg.height = 5
    with pytest.raises(MessageError, match="size mismatch"):
        image_from_msg(msg)
    with pytest.raises(MessageError, match="expected '32FC1'"):
        image_from_msg(image_to_msg(np.zeros((2, 2, 3), np.uint8), "rgb8"), "32FC1")


def test_joint_states_reordered_by_name_and_validated():
    q = np.arange(7) * 0.1
    msg = joint_state_msg(q, 0.04, 0.0)
    order = list(reversed(range(len(msg.name))))
    msg.name = [msg.name[i] for i in order]
    msg.position = [msg.position[i] for i in order]
    got, width = joint_state_from_msg(msg)
    np.testing.assert_allclose(got, q)
    assert width == pytest.approx(0.04)
    msg.position[0] = float("nan")
    with pytest.raises(MessageError, match="NaN"):
        joint_state_from_msg(msg)
    msg = joint_state_msg(q, 0.04, 0.0)
    msg.name, msg.position = msg.name[1:], msg.position[1:]
    with pytest.raises(MessageError, match="lacks panda_joint1"):
        joint_state_from_msg(msg)


def test_depth_in_millimetres_and_metres_reads_as_metres_with_holes_as_nan():
    mm = np.array([[0, 1, 850], [1234, 65535, 0]], dtype=np.uint16)  # 0: no reading
    msg = image_to_msg(mm, "16UC1")
    depth = depth_from_msg(msg)
    assert depth.dtype == np.float32
    np.testing.assert_allclose(depth, [[np.nan, 0.001, 0.85], [1.234, 65.535, np.nan]],
                               rtol=1e-6)
    msg.encoding = "mono16"  # older drivers' name for the same data
    np.testing.assert_allclose(depth_from_msg(msg), depth, rtol=1e-6)
    big = image_to_msg(mm.byteswap(), "16UC1")
    big.is_bigendian = 1
    np.testing.assert_allclose(depth_from_msg(big), depth, rtol=1e-6)
    metres = np.array([[0.0, -1.0, np.nan], [0.5, np.inf, 2.0]], dtype=np.float32)
    np.testing.assert_array_equal(depth_from_msg(image_to_msg(metres, "32FC1")),
                                  [[np.nan, np.nan, np.nan], [0.5, np.inf, 2.0]])


def test_depth_round_trips_through_millimetres():
    depth = np.array([[0.8504, np.nan], [0.0, 1.5]], dtype=np.float32)
    msg = depth_to_msg(depth, "16UC1")
    assert msg.encoding == "16UC1" and msg.step == 2 * 2
    np.testing.assert_array_equal(image_from_msg(msg), [[850, 0], [0, 1500]])
    np.testing.assert_allclose(depth_from_msg(msg), [[0.85, np.nan], [np.nan, 1.5]])


def test_a_depth_image_in_another_encoding_is_refused_by_name():
    with pytest.raises(MessageError, match="'rgb8' is not a depth encoding.*16UC1"):
        depth_from_msg(image_to_msg(np.zeros((2, 2, 3), np.uint8), "rgb8"))
    msg = image_to_msg(np.zeros((2, 2), np.uint16), "16UC1")
    msg.encoding = "16SC1"
    with pytest.raises(MessageError, match="'16SC1' is not a depth encoding"):
        depth_from_msg(msg)
    with pytest.raises(MessageError, match="is not a depth encoding"):
        depth_to_msg(np.zeros((2, 2)), "32SC1")


FR3 = JointNames(tuple(f"fr3_joint{i}" for i in range(1, 8)),
                 ("fr3_finger_joint1", "fr3_finger_joint2"))


def test_joint_states_with_a_drivers_own_joint_names():
    q = np.arange(7) * 0.1
    msg = joint_state_msg(q, 0.06, 0.0, joints=FR3)
    assert msg.name[0] == "fr3_joint1" and msg.name[-1] == "fr3_finger_joint2"
    msg.name, msg.position = [*msg.name, "fr3_extra"], [*msg.position, 9.0]  # ignored
    got, width = joint_state_from_msg(msg, FR3)
    np.testing.assert_allclose(got, q)
    assert width == pytest.approx(0.06)
    with pytest.raises(MessageError, match="lacks panda_joint1.*fr3_joint1.*arm_joints"):
        joint_state_from_msg(msg)  # the Panda's names against an FR3 driver
    one_finger = JointNames(FR3.arm, ("fr3_finger_joint1",))
    got, width = joint_state_from_msg(joint_state_msg(q, 0.04, 0.0, joints=one_finger),
                                      one_finger)
    assert width == pytest.approx(0.04)


@pytest.mark.parametrize("arm, fingers, match", [
    (PANDA.arm[:6], PANDA.fingers, "7 arm joint names"),
    (PANDA.arm, (), "1 or 2 names"),
    (PANDA.arm, ("a", "b", "c"), "1 or 2 names"),
    (PANDA.arm, (PANDA.arm[0],), "distinct"),
    ((*PANDA.arm[:6], ""), PANDA.fingers, "non-empty"),
])
def test_bad_joint_names_are_refused(arm, fingers, match):
    with pytest.raises(ValueError, match=match):
        JointNames(arm, fingers)


def test_objects_survive_markers():
    objects = [ObjectState("obj_1", "block", "red", np.array([0.5, 0.1, 0.02]),
                           np.array([0, 0, 0, 1.0]), np.full(3, 0.04), 3),
               ObjectState("obj_2", "bowl", "blue", np.array([0.4, -0.1, 0.02]),
                           np.array([0, 0, 0, 1.0]), np.array([0.15, 0.15, 0.035]), 4)]
    back = objects_from_markers(objects_to_markers(objects, 1.5))
    assert [(o.name, o.kind, o.color, o.mask_id) for o in back] == \
        [(o.name, o.kind, o.color, o.mask_id) for o in objects]
    np.testing.assert_allclose(back[1].position, objects[1].position)


def test_an_empty_scene_is_a_fresh_stamped_observation():
    """With every object gone (a `remove` fault on a one-object scene) the only marker is the
    DELETEALL; it must carry the frame's stamp, or the planner refuses the scene as stale
    forever instead of answering that the goal's object is gone."""
    from embodied_mm.ros.ros2_robot import _header_stamp

    markers = objects_to_markers([], 1234.5, frame_id="base")
    assert objects_from_markers(markers) == []
    assert _header_stamp(markers) == pytest.approx(1234.5)
    assert markers.markers[0].header.frame_id == "base"


def test_trajectory_follower_interpolates_reorders_and_rejects():
    follower = TrajectoryFollower(ARM_JOINTS, np.full(7, -3.0), np.full(7, 3.0))
    follower.hold(np.zeros(7))
    goal = np.linspace(0.1, 0.7, 7)
    names = list(reversed(ARM_JOINTS))
    follower.set(trajectory_msg(names, [goal[::-1]], [1.0]), start=10.0, current=np.zeros(7))
    np.testing.assert_allclose(follower.target(10.5), goal / 2)
    np.testing.assert_allclose(follower.target(12.0), goal)
    with pytest.raises(MessageError, match="misses joint"):
        follower.set(trajectory_msg(names[:3], [[0, 0, 0]], [1.0]), 0.0, np.zeros(7))
    with pytest.raises(MessageError, match="unknown joint"):
        follower.set(trajectory_msg(["elbow"] + names, [[0] * 8], [1.0]), 0.0, np.zeros(7))
    with pytest.raises(MessageError, match="NaN"):
        follower.set(trajectory_msg(names, [[float("nan")] * 7], [1.0]), 0.0, np.zeros(7))
    np.testing.assert_allclose(follower.target(12.0), goal)  # old trajectory kept


def test_every_topic_type_has_a_schema():
    for type_name in set(TOPIC_TYPES.values()):
        text = schema_text(type_name)
        assert text.strip()
    assert "MSG: std_msgs/Header" in schema_text("sensor_msgs/Image")
