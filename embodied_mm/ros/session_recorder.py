"""Records the graph's topics into the session's open episode file, as received (CDR bytes).

Camera and segmentation images are kept at `image_hz` (the rest at their own rate). Latched
state (the loaded scene, e-stop, who has control) is remembered and written at the start of
every episode, so each file stands on its own.
"""

from __future__ import annotations

import time

from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.subscription import Subscription

from embodied_mm.ros import qos as ros_qos
from embodied_mm.ros import topics
from embodied_mm.ros.recorder_node import message_class
from embodied_mm.teleop.session import RECORDED_TOPICS, Session

LATCHED = (topics.EPISODE, topics.ESTOP, topics.TELEOP_ACTIVE)
IMAGES = (topics.COLOR, topics.SEGMENTATION)
SENSORS = (*IMAGES, topics.JOINT_STATES)
# Written by the console itself (it knows them before they cross the network).
OWN = (topics.TELEOP_STEPS, topics.TELEOP_LABEL)


class SessionRecorder:
    """Raw subscriptions on `node` feeding `session`.

    Args:
        node: the node to subscribe on (spun elsewhere).
        session: where messages go (dropped while no episode is open).
        image_hz: images per second kept in the recording.
    """

    def __init__(self, node: Node, session: Session, image_hz: float = 4.0) -> None:
        if image_hz <= 0:
            raise ValueError(f"image_hz must be > 0, got {image_hz}")
        self.session, self.period_ns = session, int(1e9 / image_hz)
        self._last_image: dict[str, int] = {}
        self._latched: dict[str, bytes] = {}
        self.subscriptions: dict[str, Subscription] = {}
        for topic, type_name in RECORDED_TOPICS.items():
            if topic in OWN:
                continue
            qos = ros_qos.LATCHED_QOS if topic in LATCHED else \
                ros_qos.SENSOR_QOS if topic in SENSORS else ros_qos.RELIABLE_QOS
            self.subscriptions[topic] = node.create_subscription(
                message_class(type_name), topic,
                                     lambda data, t=topic: self._on_message(t, data),
                                     QoSProfile(history=qos.history, depth=10,
                                                reliability=qos.reliability,
                                                durability=qos.durability), raw=True)

    def _on_message(self, topic: str, data: bytes) -> None:
        now = time.time_ns()
        if topic in LATCHED:
            self._latched[topic] = data
        if topic in IMAGES:
            if now - self._last_image.get(topic, 0) < self.period_ns:
                return
            self._last_image[topic] = now
        self.session.write(topic, data, now)

    def write_latched(self) -> None:
        """Writes the remembered latched state into the (just opened) episode."""
        now = time.time_ns()
        for topic, data in self._latched.items():
            self.session.write(topic, data, now)
