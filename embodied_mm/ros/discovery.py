"""ROS 2 discovery defaults: localhost only, unless the user chose otherwise.

A robot stack should not announce its topics (camera, e-stop, controller commands) to every
machine on the network by default. Our node entry points and `embodied-mm launch` therefore set
`ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST` when it is unset; for a robot PC + GPU PC setup set
`ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET` (and the same `ROS_DOMAIN_ID`) on both machines, which
this leaves alone. No rclpy import here: the launch runner uses it too.

Example:
    ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET embodied-mm launch launch/hardware.launch.yaml
"""

from __future__ import annotations

from collections.abc import MutableMapping

DISCOVERY_RANGE = "ROS_AUTOMATIC_DISCOVERY_RANGE"
DEFAULT_RANGE = "LOCALHOST"


def default_discovery(env: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Sets localhost-only discovery in `env` unless it names a range; returns `env`."""
    if not env.get(DISCOVERY_RANGE):
        env[DISCOVERY_RANGE] = DEFAULT_RANGE
    return env
