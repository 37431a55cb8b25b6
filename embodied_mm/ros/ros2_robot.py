"""`Ros2Robot`: the `Robot` interface over ROS 2 topics, for the sim node and real hardware.

Reads `/joint_states` (reordered by joint name) and the perceived objects when it observes
(newest message, taken on demand: `embodied_mm.ros.latest`), and sends each
clipped command as a one-point `JointTrajectory` to the arm and gripper controller topics,
exactly what ros2_control's joint trajectory controllers accept. Joint names are the node's
parameters `arm_joints` (7) and `finger_joints` (1 or 2), the Panda's by default
(`joint_names_param`; a Franka FR3 driver's are `fr3_joint1…7`, `fr3_finger_joint1/2`), used
for `/joint_states` and the trajectories alike. Depth images may be `32FC1` (m) or `16UC1`
(mm). Commands are paced at the control rate. While `/embodied_mm/estop` is true nothing is
sent and `send_action` raises `EStopActive`, so a running skill stops at once.

Example:
    robot = Ros2Robot(node)              # inside a node that is being spun
    robot.connect()                      # waits for the first /joint_states
    robot.send_action(EndEffectorAction(np.array([0.5, 0.0, 0.2]), 0.0, 0.08))
"""

from __future__ import annotations

import threading
import time
from functools import partial

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import MarkerArray

from embodied_mm.robots.base import Robot, RobotLimits
from embodied_mm.robots.kinematics import rotation_to_quaternion
from embodied_mm.ros import qos as ros_qos
from embodied_mm.ros import topics
from embodied_mm.ros.conversions import (
    PANDA,
    JointNames,
    depth_from_msg,
    image_from_msg,
    joint_state_from_msg,
    objects_from_markers,
    trajectory_msg,
)
from embodied_mm.ros.latest import LatestReader, PolledNode
from embodied_mm.ros.node_utils import param
from embodied_mm.types import JointAction, Observation


def joint_names_param(node: Node) -> JointNames:
    """The robot driver's joint names from the node's parameters `arm_joints` and
    `finger_joints` (declared here if not yet; defaults: the Panda's); raises `ValueError`
    naming a bad list."""
    def value(name: str, default: tuple[str, ...]) -> list[str]:
        if node.has_parameter(name):
            return list(node.get_parameter(name).value)
        return list(param(node, name, list(default)))

    return JointNames(tuple(value("arm_joints", PANDA.arm)),
                      tuple(value("finger_joints", PANDA.fingers)))


class EStopActive(RuntimeError):
    """The e-stop is engaged: no command may be sent."""


class StaleData(RuntimeError):
    """An input is missing or older than allowed."""


class Ros2Robot(Robot):
    """A Panda behind trajectory-controller topics.

    Args:
        node: the node to create subscriptions and publishers on (spun elsewhere).
        arm_topic, gripper_topic: controller command topics (hardware may use other names).
        max_age_s: observations older than this raise `StaleData`.
        images: subscribe to the camera (only planners that read images need it).
        joints: the driver's joint names; None: the node's `arm_joints`/`finger_joints`
            parameters (`joint_names_param`).
    """

    def __init__(self, node: Node, limits: RobotLimits | None = None, control_hz: float = 20.0,
                 arm_topic: str = topics.ARM_TRAJECTORY,
                 gripper_topic: str = topics.GRIPPER_TRAJECTORY,
                 max_age_s: float = 1.0, images: bool = False,
                 joints: JointNames | None = None) -> None:
        super().__init__(limits, control_hz)
        self.node, self.max_age_s = node, max_age_s
        self.joints = joints if joints is not None else joint_names_param(node)
        self._estop = False
        self._estop_changed = threading.Condition()
        self._next_tick = 0.0
        self._arm_pub = node.create_publisher(JointTrajectory, arm_topic, ros_qos.RELIABLE_QOS)
        self._gripper_pub = node.create_publisher(JointTrajectory, gripper_topic,
                                                  ros_qos.RELIABLE_QOS)
        node.create_subscription(Bool, topics.ESTOP, self._on_estop, ros_qos.LATCHED_QOS)
        # Sensor inputs are read when an observation is taken, not in a callback per message.
        polled = PolledNode(node)
        self._readers: dict[str, LatestReader] = {
            "joints": polled.reader(  # a malformed message never becomes state
                JointState, topics.JOINT_STATES, ros_qos.LATEST_QOS,
                partial(joint_state_from_msg, joints=self.joints),
                lambda text: node.get_logger().warning(text, throttle_duration_sec=2.0)),
            "objects": polled.reader(MarkerArray, topics.OBJECTS, ros_qos.NEWEST_RELIABLE_QOS)}
        if images:
            # Object masks from perception (its own in the camera-only modes), never the
            # sim's segmentation: the `objects` input must read what a real camera gives.
            for key, topic in (("rgb", topics.COLOR), ("depth", topics.DEPTH),
                               ("seg", topics.OBJECT_MASKS)):
                self._readers[key] = polled.reader(Image, topic, ros_qos.LATEST_QOS)
        self.wants_images = images

    # -- inputs --------------------------------------------------------------------------------
    def _now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def _newest(self, key: str) -> tuple[float, object] | None:
        reader = self._readers.get(key)
        return reader.latest() if reader is not None else None

    def _on_estop(self, msg: Bool) -> None:
        with self._estop_changed:
            self._estop = bool(msg.data)
            self._estop_changed.notify_all()

    @property
    def estopped(self) -> bool:
        return self._estop

    def age(self, key: str) -> float:
        """Seconds since `key` (joints, objects, rgb, depth, seg) was last received."""
        return self._age(self._newest(key))

    def _age(self, newest: tuple[float, object] | None) -> float:
        return float("inf") if newest is None else self._now() - newest[0]

    def captured_at(self, key: str) -> float:
        """Header stamp of the newest `key` message (when the camera saw it), 0 if none."""
        newest = self._newest(key)
        return 0.0 if newest is None else _header_stamp(newest[1])

    def connect(self, timeout_s: float = 10.0) -> None:
        """Waits for the first joint state."""
        deadline = time.monotonic() + timeout_s
        while self._newest("joints") is None:
            if time.monotonic() > deadline:
                raise StaleData(f"no {topics.JOINT_STATES} within {timeout_s:.0f} s")
            time.sleep(0.02)
        super().connect()

    def _fresh(self, key: str):
        newest = self._newest(key)  # taken once: its age and message go together
        age = self._age(newest)
        if age > self.max_age_s:
            raise StaleData(f"{key} is {age:.1f} s old (max_age_s={self.max_age_s})")
        return newest[1]

    def _observe(self, images: bool) -> Observation:
        q, width = self._fresh("joints")
        pos, rot = self.kinematics.forward(q)
        # Skills and planners act on the perceived objects: an old object list is refused
        # like old joint states (at start-up, before perception has spoken, too).
        objects = objects_from_markers(self._fresh("objects"))
        obs = Observation(joint_positions=q, gripper_width=width,
                          ee_pose=np.concatenate([pos, rotation_to_quaternion(rot)]),
                          objects=objects, stamp=self._now(),
                          objects_stamp=self.captured_at("objects"))
        if images and self.wants_images:
            obs.rgb = image_from_msg(self._fresh("rgb"), "rgb8")
            obs.depth = depth_from_msg(self._fresh("depth"))
            seg = self._newest("seg")
            if seg is not None:
                obs.segmentation = image_from_msg(seg[1], "32SC1")
        return obs

    def joint_positions(self) -> np.ndarray:
        return self._fresh("joints")[0]

    # -- commands ------------------------------------------------------------------------------
    def _command(self, action: JointAction) -> None:
        if self._estop:
            raise EStopActive("e-stop engaged: command not sent")
        period = 1.0 / self.control_hz
        arm = trajectory_msg(self.joints.arm, [action.joint_positions], [period])
        fingers = [action.gripper_width / 2] * len(self.joints.fingers)
        gripper = trajectory_msg(self.joints.fingers, [fingers], [period])
        self._arm_pub.publish(arm)
        self._gripper_pub.publish(gripper)
        # Pace the control loop: return at the next tick (the controller moves meanwhile).
        now = time.monotonic()
        self._next_tick = max(self._next_tick + period, now)
        with self._estop_changed:
            self._estop_changed.wait_for(lambda: self._estop, timeout=self._next_tick - now)


def _header_stamp(msg) -> float:
    if isinstance(msg, MarkerArray):
        stamps = [m.header.stamp for m in msg.markers]
    else:
        stamps = [getattr(getattr(msg, "header", None), "stamp", None)]
    seconds = [s.sec + s.nanosec * 1e-9 for s in stamps if s is not None]
    return max(seconds, default=0.0)
