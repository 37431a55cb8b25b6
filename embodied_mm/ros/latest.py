"""Read-on-demand subscriptions: the newest message of a topic, taken only when it is needed.

A node that only ever wants the newest joint state or camera frame pays, with an ordinary
subscription, one Python callback per message: at 100 Hz joint states and 15 Hz images that
was 17% of a core in the planner node, and its executor thread kept taking the GIL from the
thread running the LLM (decisions took ~1.5× as long as in-process). Here the subscriptions
live on a helper node that no executor spins: DDS keeps the newest samples (in C++, no GIL)
and `LatestReader.latest` takes them when asked.

Example:
    polled = PolledNode(node)                 # one helper per node
    joints = polled.reader(JointState, "/joint_states", qos.LATEST_QOS)
    newest = joints.latest()                  # (received at, message) or None
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rclpy.node import Node
from rclpy.qos import QoSProfile


class PolledNode:
    """A never-spun helper node next to `node` (named `<node>_polled`, same context) that
    holds read-on-demand subscriptions. The context destroys it at shutdown."""

    def __init__(self, node: Node) -> None:
        self.owner = node
        name = f"{node.get_name()}_polled"
        # Its own name even under the launch's `__node:=` remap of the process's nodes (local
        # arguments win); topic remaps of the command line still apply to its subscriptions.
        self.node = Node(name, namespace=node.get_namespace(), context=node.context,
                         cli_args=["--ros-args", "-r", f"__node:={name}"],
                         start_parameter_services=False)

    def reader(self, msg_type: type, topic: str, qos: QoSProfile,
               convert: Callable | None = None,
               on_error: Callable[[str], None] | None = None) -> LatestReader:
        """A `LatestReader` of `topic`."""
        return LatestReader(self, msg_type, topic, qos, convert, on_error)

    def now(self) -> float:
        """The owner node's clock, in seconds."""
        return self.owner.get_clock().now().nanoseconds * 1e-9


class LatestReader:
    """The newest message of one topic, taken from DDS on demand (thread-safe).

    Args:
        polled: the helper node to subscribe on.
        convert: applied to each taken message; a `ValueError` from it drops that message
            (the previous one stays the newest) and is reported through `on_error`.
        on_error: called with the text of each such report (default: none).
    """

    def __init__(self, polled: PolledNode, msg_type: type, topic: str, qos: QoSProfile,
                 convert: Callable | None = None,
                 on_error: Callable[[str], None] | None = None) -> None:
        self._polled = polled
        self._type, self.topic, self._convert = msg_type, topic, convert
        # No executor spins this node, so the callback never runs; `latest` takes instead.
        self._sub = polled.node.create_subscription(msg_type, topic, lambda _: None, qos)
        self._lock = threading.Lock()
        self._newest: tuple[float, object] | None = None
        self._on_error = on_error or (lambda text: None)

    def latest(self) -> tuple[float, object] | None:
        """(when it was received, on the owner node's clock; the message, converted), or
        None before the first message."""
        with self._lock:
            while (taken := self._take()) is not None:
                msg, received_ns = taken
                if self._convert is not None:
                    try:
                        msg = self._convert(msg)
                    except ValueError as err:
                        self._on_error(f"dropped {self.topic}: {err}")
                        continue
                # The received stamp is on the system clock; re-express its age on the node's.
                age = max(time.time() - received_ns * 1e-9, 0.0) if received_ns else 0.0
                self._newest = (self._polled.now() - age, msg)
            return self._newest

    def _take(self) -> tuple[object, int] | None:
        with self._sub.handle:
            taken = self._sub.handle.take_message(self._type, False)
        if taken is None:
            return None
        msg, info = taken
        return msg, int(info.get("received_timestamp", 0) or 0)
