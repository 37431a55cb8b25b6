"""QoS profiles of the graph, the profile each topic's publishers offer, and that profile as
the `offered_qos_profiles` YAML that rosbag2 keeps in MCAP channel metadata.

Example:
    >>> from embodied_mm.ros import topics
    >>> offered_qos(topics.ESTOP).durability.name
    'TRANSIENT_LOCAL'
"""

from __future__ import annotations

from collections.abc import Iterable

from rclpy.duration import Infinite
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    LivelinessPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

from embodied_mm.ros import topics

SENSOR_QOS = qos_profile_sensor_data  # best effort, keep last 5
# Subscribers that only want the newest sample.
LATEST_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                        reliability=ReliabilityPolicy.BEST_EFFORT,
                        durability=DurabilityPolicy.VOLATILE)
# State read on demand (ros/latest.py) from a reliable publisher: delivered, newest kept.
NEWEST_RELIABLE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                                 reliability=ReliabilityPolicy.RELIABLE,
                                 durability=DurabilityPolicy.VOLATILE)
# Commands and events: every message matters.
RELIABLE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                          reliability=ReliabilityPolicy.RELIABLE,
                          durability=DurabilityPolicy.VOLATILE)
# State a late joiner must still get (e-stop, loaded episode, who has control).
LATCHED_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)

SENSOR_TOPICS = frozenset({topics.COLOR, topics.COLOR_INFO, topics.DEPTH, topics.SEGMENTATION,
                           topics.OBJECT_MASKS, topics.JOINT_STATES})
LATCHED_TOPICS = frozenset({topics.ESTOP, topics.EPISODE, topics.TELEOP_ACTIVE})

# rosbag2's spelling of an infinite duration (Time::max() split into seconds and nanoseconds).
_INFINITE = {"sec": 9223372036, "nsec": 854775807}


def offered_qos(topic: str) -> QoSProfile:
    """The profile the graph's publishers offer on `topic` (sensor data, latched or reliable)."""
    if topic in SENSOR_TOPICS:
        return SENSOR_QOS
    return LATCHED_QOS if topic in LATCHED_TOPICS else RELIABLE_QOS


def qos_yaml(profiles: Iterable[QoSProfile]) -> str:
    """`profiles` as rosbag2's `offered_qos_profiles` YAML (one list entry per publisher)."""
    entries = []
    for qos in profiles:
        entries.append("\n".join([
            f"- history: {_policy(qos.history)}",
            f"  depth: {qos.depth}",
            f"  reliability: {_policy(qos.reliability)}",
            f"  durability: {_policy(qos.durability)}",
            f"  deadline: {_duration(qos.deadline)}",
            f"  lifespan: {_duration(qos.lifespan)}",
            f"  liveliness: {_policy(qos.liveliness)}",
            f"  liveliness_lease_duration: {_duration(qos.liveliness_lease_duration)}",
            f"  avoid_ros_namespace_conventions: "
            f"{str(qos.avoid_ros_namespace_conventions).lower()}"]))
    return "\n".join(entries) + "\n" if entries else "[]\n"


def _policy(value) -> str:
    """`HistoryPolicy.KEEP_LAST` -> `keep_last`; the system default is spelled as rosbag2 does."""
    if value in (HistoryPolicy.SYSTEM_DEFAULT, ReliabilityPolicy.SYSTEM_DEFAULT,
                 DurabilityPolicy.SYSTEM_DEFAULT, LivelinessPolicy.SYSTEM_DEFAULT):
        return "system_default"
    return value.name.lower()


def _duration(duration) -> str:
    """A QoS duration as `{sec, nsec}`; 0 is "unspecified" (the middleware's default)."""
    if duration == Infinite:
        return f"{{sec: {_INFINITE['sec']}, nsec: {_INFINITE['nsec']}}}"
    sec, nsec = divmod(duration.nanoseconds, 1_000_000_000)
    return f"{{sec: {sec}, nsec: {nsec}}}"
