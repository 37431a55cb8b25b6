"""The e-stop latch: anyone may engage `/embodied_mm/estop`; only named nodes may release it.

`true` from any publisher engages the e-stop at once (stopping must never need permission).
`false` releases it only when the publishing node is one of `release_nodes` (default: the
operator console `teleop_console` and the `executor`); the publisher is identified by the
global id DDS gives each message, looked up in the ROS graph. A publisher's message can
arrive before the ROS graph lists it, or before the graph knows which node owns it (rcl then
names the node `_NODE_NAME_UNKNOWN_`): a console that publishes the moment it starts. Such an
id is looked up again for up to `DISCOVERY_WAIT_S` before the release is refused. A
refused release is logged with the publisher's name and the e-stop stays engaged.

Without SROS2 (DDS security) a process on the same domain could still name its node
`teleop_console`: this guard stops stray and mistaken releases, not an attacker who can
already publish on the domain. docs/reliability.md says how to lock it down with SROS2.

Example:
    latch = EStopLatch(node, on_change=lambda engaged: print("engaged" if engaged else "off"))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from rclpy.node import Node
from std_msgs.msg import Bool

from embodied_mm.ros import qos as ros_qos
from embodied_mm.ros import topics

RELEASE_NODES = ("teleop_console", "executor")
DISCOVERY_WAIT_S = 2.0  # how long a release from a not-yet-listed publisher waits for the graph
UNKNOWN_NODE = "_NODE_NAME_UNKNOWN_"  # rcl's name for an endpoint whose node is not known yet


class EStopLatch:
    """Subscribes to the e-stop topic on `node` and calls `on_change(engaged)` on a change.

    Args:
        node: the node to subscribe on (its logger reports refused releases).
        on_change: called with the new state, from the subscription callback.
        release_nodes: node names whose `false` releases the e-stop.
    """

    def __init__(self, node: Node, on_change: Callable[[bool], None],
                 release_nodes: Sequence[str] = RELEASE_NODES) -> None:
        self.node, self.on_change = node, on_change
        self.release_nodes = tuple(release_nodes)
        self.engaged = False
        node.create_subscription(Bool, topics.ESTOP, self._on_message, ros_qos.LATCHED_QOS)

    def _on_message(self, msg: Bool, info: dict) -> None:
        engaged = bool(msg.data)
        if engaged == self.engaged:
            return
        if not engaged and not release_allowed(self.node, info, self.release_nodes):
            return
        self.engaged = engaged
        self.on_change(engaged)


def sender_name(node: Node, info: dict, wait_s: float = DISCOVERY_WAIT_S) -> str | None:
    """The name of the node that published the e-stop message with `info`, None if the ROS
    graph does not name it within `wait_s` (the graph can list a new publisher, and the node
    that owns it, after its data)."""
    gid = (info.get("publisher_gid") or {}).get("data")
    if gid is None:
        return None
    deadline = time.monotonic() + wait_s
    while True:
        for endpoint in node.get_publishers_info_by_topic(topics.ESTOP):
            if bytes(endpoint.endpoint_gid) == bytes(gid) and endpoint.node_name != UNKNOWN_NODE:
                return endpoint.node_name
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)


def release_allowed(node: Node, info: dict,
                    release_nodes: Sequence[str] = RELEASE_NODES) -> bool:
    """Whether the release with `info` came from one of `release_nodes`; logs a refusal."""
    sender = sender_name(node, info)
    if sender in release_nodes:
        return True
    node.get_logger().warning(f"e-stop release from {sender or 'an unknown publisher'} "
                              f"refused: only {', '.join(release_nodes)} may release it")
    return False
