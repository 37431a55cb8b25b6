"""`run_node` ends its spin however the context goes down, including rclpy's signal path."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("rclpy")
pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[2]

# A node whose context is shut down the way rclpy's signal thread does it after a SIGTERM:
# at the C level, with no on-shutdown callbacks, so nothing wakes an executor that is
# already waiting. This is the ordering that left the console hanging in CI.
SILENT_SHUTDOWN_NODE = textwrap.dedent("""
    import threading, time
    import rclpy
    from embodied_mm.ros.node_utils import run_node

    def factory():
        node = rclpy.create_node("silently_shut_down")
        def shut_down_quietly():
            time.sleep(1.0)  # the executor is blocked in its wait by now
            with node.context.handle:
                node.context.handle.shutdown()
        threading.Thread(target=shut_down_quietly, daemon=True).start()
        return node

    raise SystemExit(run_node(factory, args=[]))
""")


def test_spin_ends_when_the_context_is_shut_down_without_a_wake_up():
    env = {**os.environ, "ROS_DOMAIN_ID": str(random.randint(100, 200)),
           "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    proc = subprocess.run([sys.executable, "-c", SILENT_SHUTDOWN_NODE], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_a_float_parameter_takes_a_whole_number_and_refuses_text():
    """`-p camera_fov_deg:=42` is what a user types for 42°; ROS 2 alone refuses it as an
    integer where the default is a float (the sim node then died at start-up)."""
    import rclpy
    from rclpy.parameter import Parameter

    from embodied_mm.ros.node_utils import param

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=random.randint(20, 99))
    try:
        node = rclpy.create_node("params", context=context, parameter_overrides=[
            Parameter("fov", value=42), Parameter("hz", value=15.5), Parameter("name", value="x"),
            Parameter("rate", value="fast")])
        assert param(node, "fov", 55.0) == 42.0 and isinstance(param(node, "hz", 1.0), float)
        assert param(node, "unset", 55.0) == 55.0 and param(node, "name", "y") == "x"
        with pytest.raises(ValueError, match="'rate' must be a number, got 'fast'"):
            param(node, "rate", 1.0)
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
