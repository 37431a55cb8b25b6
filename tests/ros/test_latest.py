"""Read-on-demand subscriptions over real DDS: the newest message, taken when asked."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("rclpy")
from std_msgs.msg import String  # noqa: E402

from embodied_mm.ros import qos as ros_qos  # noqa: E402
from embodied_mm.ros.latest import PolledNode  # noqa: E402

pytestmark = pytest.mark.ros


def _wait_for(predicate, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


def _not_empty(msg: String) -> str:
    if not msg.data:
        raise ValueError("empty")
    return msg.data


def test_latest_is_the_newest_message_and_bad_ones_never_replace_it(graph):
    polled = PolledNode(graph.probe)
    errors: list[str] = []
    reader = polled.reader(String, "/latest_test", ros_qos.NEWEST_RELIABLE_QOS, _not_empty,
                           errors.append)
    pub = graph.probe.create_publisher(String, "/latest_test", ros_qos.RELIABLE_QOS)
    assert reader.latest() is None
    _wait_for(lambda: pub.get_subscription_count() == 1)

    for text in ("first", "second", "third"):
        pub.publish(String(data=text))
    received, newest = _wait_for(lambda: (reader.latest() or (0, ""))[1] == "third"
                                 and reader.latest())
    assert newest == "third"
    assert abs(polled.now() - received) < 2.0  # received now-ish, on the node's clock

    pub.publish(String(data=""))  # fails `convert`: reported, and "third" stays the newest
    _wait_for(lambda: reader.latest() and errors)
    assert reader.latest()[1] == "third"
    assert errors == ["dropped /latest_test: empty"]
    # A message taken long ago keeps its receive time: its age grows, so staleness shows.
    time.sleep(0.3)
    assert polled.now() - reader.latest()[0] >= 0.3
