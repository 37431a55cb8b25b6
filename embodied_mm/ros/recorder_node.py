"""`recorder_node`: writes the graph's topics to MCAP with ROS 2 (CDR) message encoding.

Messages are recorded as the serialized bytes received (no re-encoding), each with its log
time (received here) and publish time (the publisher's DDS source timestamp). As rosbag2 does,
each type has one `ros2msg` schema (from the definitions kept in the package) and each channel
carries `offered_qos_profiles` (the QoS its publishers offer, so a replay keeps latched topics
latched) and `topic_type_hash` metadata; `ros2 bag info`, Foxglove, `mcap_ros2` and `rosbags`
read the file as a ROS 2 bag. A channel is registered when its first message arrives, when
its publishers are known. Chunks are small and flushed as they fill, so a crash leaves a file
readable up to the last chunk; a clean stop (SIGINT/SIGTERM) writes the summary.

Example:
    python -m embodied_mm.ros.recorder_node --ros-args -p path:=/tmp/run.mcap
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from mcap.writer import CompressionType, Writer
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.subscription import MessageInfo

from embodied_mm.ros import topics
from embodied_mm.ros.mcap_schema import RosChannels
from embodied_mm.ros.node_utils import param, run_node
from embodied_mm.ros.qos import offered_qos, qos_yaml

# Depth and segmentation triple the bytes (and the compression CPU) of a recording; record
# them by listing them in `topics` when needed.
DEFAULT_TOPICS = [t for t in topics.TOPIC_TYPES
                  if t not in (topics.DEPTH, topics.SEGMENTATION, topics.OBJECT_MASKS)]


def message_class(type_name: str):
    """The rclpy message class of `pkg/Type`."""
    pkg, typ = type_name.split("/")
    return getattr(importlib.import_module(f"{pkg}.msg"), typ)


class RecorderNode(Node):
    """Subscribes to `topics` (default: the graph's topics but depth and segmentation) and
    writes one MCAP file."""

    def __init__(self) -> None:
        super().__init__("recorder")
        default_path = f"outputs/recordings/run_{time.strftime('%Y%m%d_%H%M%S')}.mcap"
        self.path = Path(param(self, "path", default_path))
        wanted = list(param(self, "topics", DEFAULT_TOPICS))
        unknown = [t for t in wanted if t not in topics.TOPIC_TYPES]
        if unknown:
            raise ValueError(f"recorder: unknown topic(s) {', '.join(unknown)}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "wb")
        self._writer = Writer(self._file, chunk_size=256 * 1024,
                              compression=CompressionType.LZ4)  # cheap on a busy CPU
        self._writer.start(profile="ros2", library="embodied_mm")
        self._channels = RosChannels(self._writer)
        self._count = 0
        for topic in wanted:
            type_name = topics.TOPIC_TYPES[topic]
            self.create_subscription(message_class(type_name), topic,
                                     lambda data, info, t=topic: self._write(t, data, info),
                                     QoSProfile(**_qos_kwargs(offered_qos(topic))), raw=True)
        self.get_logger().info(f"recording {len(wanted)} topics to {self.path}")

    def _write(self, topic: str, data: bytes, info: MessageInfo) -> None:
        now = time.time_ns()  # log time: when the recorder got it
        channel = self._channels.channels.get(topic)
        if channel is None:
            channel = self._channels.add(topic, topics.TOPIC_TYPES[topic],
                                         qos_yaml(self._offered_profiles(topic)))
        self._writer.add_message(channel, log_time=now, data=data,
                                 publish_time=info["source_timestamp"] or now)
        self._count += 1

    def _offered_profiles(self, topic: str) -> list[QoSProfile]:
        """The QoS of each publisher on `topic` (the graph's declared one if none is known)."""
        found = [info.qos_profile for info in self.get_publishers_info_by_topic(topic)]
        return found or [offered_qos(topic)]

    def close(self) -> None:
        self._writer.finish()
        self._file.close()
        self.get_logger().info(f"wrote {self._count} messages to {self.path}")


def _qos_kwargs(qos: QoSProfile) -> dict:
    return {"history": qos.history, "depth": max(qos.depth, 10),
            "reliability": qos.reliability, "durability": qos.durability}


def main(args: list[str] | None = None) -> int:
    return run_node(RecorderNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
