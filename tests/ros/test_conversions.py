"""Message conversions and trajectory following: malformed input is rejected with a reason."""

from __future__ import annotations

import numpy as np
import pytest

from embodied_mm.ros.conversions import (
    MessageError,
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


def test_objects_survive_markers():
    objects = [ObjectState("obj_1", "block", "red", np.array([0.5, 0.1, 0.02]),
                           np.array([0, 0, 0, 1.0]), np.full(3, 0.04), 3),
               ObjectState("obj_2", "bowl", "blue", np.array([0.4, -0.1, 0.02]),
                           np.array([0, 0, 0, 1.0]), np.array([0.15, 0.15, 0.035]), 4)]
    back = objects_from_markers(objects_to_markers(objects, 1.5))
    assert [(o.name, o.kind, o.color, o.mask_id) for o in back] == \
        [(o.name, o.kind, o.color, o.mask_id) for o in objects]
    np.testing.assert_allclose(back[1].position, objects[1].position)


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
