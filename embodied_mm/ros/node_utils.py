"""Shared node plumbing: typed config from ROS parameters, and a clean `main` for every node.

Nodes take Hydra overrides as the string-array parameter `overrides` and build their config
with the compose API (`@hydra.main` breaks under `--ros-args`).

Example:
    ros2 run embodied_mm sim_node --ros-args -p overrides:="task=stack seed=3"
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
from collections.abc import Callable

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from embodied_mm.config import Config, load_config
from embodied_mm.ros.dds import dds_defaults


def config_from_params(node: Node) -> Config:
    """Declares `overrides` and composes the stack's config from it.

    `overrides` is a string array (`['task=stack', 'seed=3']`) or one string of
    space-separated overrides (`"task=stack seed=3"`, what launch-file substitutions give).
    """
    node.declare_parameter("overrides", None, ParameterDescriptor(dynamic_typing=True))
    value = node.get_parameter("overrides").value
    if value is None:
        overrides: list[str] = []
    elif isinstance(value, str):
        overrides = value.split()
    else:
        overrides = [str(v) for v in value]
    return load_config(overrides)


def param(node: Node, name: str, default):
    """Declares a parameter with a default and returns its value. A float parameter takes a
    whole number too (`-p camera_fov_deg:=42` means 42.0; ROS 2 would refuse it as an integer).

    Raises:
        ValueError: a float parameter given something that is not a number, naming it.
    """
    if not isinstance(default, float):
        return node.declare_parameter(name, default).value
    value = node.declare_parameter(name, default,
                                   ParameterDescriptor(dynamic_typing=True)).value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"parameter {name!r} must be a number, got {value!r}")
    return float(value)


# How often the spin loop looks at the context when nothing else wakes it. rclpy's signal
# thread first wakes the executor and only then shuts the context down, without waking it
# again; a spin that went back to an unbounded wait in between never returns. Bounding each
# wait closes that race: a signal stops the node within this time.
SHUTDOWN_POLL_S = 0.5


def run_node(factory: Callable[[], Node], args: list[str] | None = None) -> int:
    """Creates the node, spins it until SIGINT/SIGTERM or `rclpy.shutdown()`, cleans up.

    One executor thread: callbacks only store data and wake the node's worker thread, and
    rclpy's single-threaded executor costs a fraction of the multi-threaded one's CPU.
    Each wait is bounded by `SHUTDOWN_POLL_S` so that a signal always ends the spin.

    Returns the node's `exit_code` attribute if it set one (for runner-style nodes), else 0.
    SIGUSR1 prints every thread's stack to stderr, for diagnosing a node that hangs.
    """
    dds_defaults(os.environ)  # localhost discovery, our Fast DDS profile (read by init)
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>`: a stuck node prints its stacks
    # rclpy's own handlers turn SIGINT and SIGTERM into a shutdown that wakes the executor.
    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    executor = SingleThreadedExecutor()
    try:
        node = factory()
        executor.add_node(node)
        while executor.context.ok():
            executor.spin_once(timeout_sec=SHUTDOWN_POLL_S)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        # A signal's shutdown can land while the executor builds its wait set; that shows up
        # as an RCLError about an invalid context, and is the same clean stop.
        if rclpy.ok():
            raise
    finally:
        code = int(getattr(node, "exit_code", 0) or 0)
        if node is not None:
            close = getattr(node, "close", None)
            if close is not None:
                close()
            node.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown()
    return code
