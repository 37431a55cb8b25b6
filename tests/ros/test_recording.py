"""A recording made by the graph's recorder is a ROS 2 bag: `rosbags` reads it, every message
deserialises with the bag's own definitions, and each channel has its QoS and type hash."""

from __future__ import annotations

from pathlib import Path

import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from std_msgs.msg import Bool, Float32MultiArray, String

from embodied_mm.ros import qos, topics

pytestmark = [pytest.mark.ros, pytest.mark.sim, pytest.mark.slow]

PROBE_TOPICS = {topics.PLAN: (String, String(data="pick(obj_1)"), qos.RELIABLE_QOS),
                topics.ESTOP: (Bool, Bool(data=False), qos.LATCHED_QOS),
                topics.SKILL_STATUS: (DiagnosticStatus, DiagnosticStatus(name="executor"),
                                      qos.RELIABLE_QOS),
                topics.OBJECT_FEATURES: (Float32MultiArray, Float32MultiArray(data=[1.0, 2.0]),
                                         qos.RELIABLE_QOS)}
SIM_TOPICS = {topics.COLOR, topics.COLOR_INFO, topics.JOINT_STATES, topics.EPISODE}


def _record(graph, path: Path) -> None:
    """Sim + recorder, and a probe publishing what the sim does not; stops the recorder."""
    graph.start("recorder", "recorder_node", f"path:={path}")
    graph.start("sim", "sim_node", "overrides:=task=stack seed=1")
    assert graph.spin_until(lambda: graph.probe.count_subscribers(topics.PLAN) > 0, 60), \
        graph.log("recorder")
    assert graph.spin_until(lambda: graph.probe.count_publishers(topics.JOINT_STATES) > 0, 90), \
        graph.log("sim")
    publishers = {t: graph.probe.create_publisher(cls, t, profile)
                  for t, (cls, _, profile) in PROBE_TOPICS.items()}
    assert graph.spin_until(lambda: all(p.get_subscription_count() for p in
                                        publishers.values()), 30)  # the recorder matched them
    for topic, (_, msg, _) in PROBE_TOPICS.items():
        publishers[topic].publish(msg)
    graph.spin_for(3.0)
    assert graph.stop("recorder") == 0, graph.log("recorder")


def test_recording_reads_as_a_ros2_bag_with_qos_and_type_hashes(graph, tmp_path):
    from mcap.reader import make_reader
    from rosbags.highlevel import AnyReader
    from rosbags.interfaces import QosDurability, QosReliability

    path = tmp_path / "run.mcap"
    _record(graph, path)

    with AnyReader([path]) as bag:
        by_topic = {c.topic: c for c in bag.connections}
        assert SIM_TOPICS | set(PROBE_TOPICS) <= set(by_topic), sorted(by_topic)
        counts = dict.fromkeys(by_topic, 0)
        for connection, _, raw in bag.messages():
            bag.deserialize(raw, connection.msgtype)  # raises if a message does not match
            counts[connection.topic] += 1
        assert all(counts[t] > 0 for t in SIM_TOPICS | set(PROBE_TOPICS)), counts
        assert sum(counts.values()) == bag.message_count
        for topic, connection in by_topic.items():
            assert connection.ext.offered_qos_profiles, topic
        estop = by_topic[topics.ESTOP].ext.offered_qos_profiles[0]
        assert estop.durability == QosDurability.TRANSIENT_LOCAL  # a replay stays latched
        joints = by_topic[topics.JOINT_STATES].ext.offered_qos_profiles[0]
        assert joints.reliability == QosReliability.BEST_EFFORT
        # The hash of each type, computed by rosbags from the bag's own definitions.
        expected = {c.topic: bag.typestore.hash_rihs01(c.msgtype) for c in bag.connections}

    with open(path, "rb") as f:
        summary = make_reader(f).get_summary()
    schema_names = [s.name for s in summary.schemas.values()]
    assert len(schema_names) == len(set(schema_names))  # one schema per type
    for channel in summary.channels.values():
        assert channel.metadata["topic_type_hash"] == expected[channel.topic], channel.topic
