"""ROS 2 middleware defaults for every process of the graph, unless the user chose otherwise.

- Discovery: localhost only. A robot stack should not announce its topics (camera, e-stop,
  controller commands) to every machine on the network by default, so
  `ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST` is set when it is unset; for a robot PC + GPU PC
  setup set `ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET` (and the same `ROS_DOMAIN_ID`) on both
  machines, which this leaves alone.
- Transport: Fast DDS reads `configs/ros/fastdds.xml`, whose shared-memory segment (8 MiB
  instead of Fast DDS's 512 KiB) holds a few camera frames. With the default segment a
  publisher recycles buffers that readers have not taken yet: one colour + depth +
  segmentation frame of the sim at 320×240 is 0.8 MiB, and about half the frames reached the
  perception node incomplete (four in five at 640×480; docs/ros.md). A profile file the user
  names (`FASTDDS_DEFAULT_PROFILES_FILE`, or the older `FASTRTPS_DEFAULT_PROFILES_FILE`) wins,
  and another RMW (`RMW_IMPLEMENTATION`) is left alone.

Our node entry points (`run_node`), `embodied-mm launch` and the bench apply both. No rclpy
import here: the launch runner uses it too.

Example:
    ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET embodied-mm launch launch/hardware.launch.yaml
"""

from __future__ import annotations

from collections.abc import MutableMapping

from embodied_mm.paths import config_dir

DISCOVERY_RANGE = "ROS_AUTOMATIC_DISCOVERY_RANGE"
DEFAULT_RANGE = "LOCALHOST"
PROFILES_FILE = "FASTDDS_DEFAULT_PROFILES_FILE"
PROFILES_FILE_VARIABLES = (PROFILES_FILE, "FASTRTPS_DEFAULT_PROFILES_FILE")


def default_discovery(env: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Sets localhost-only discovery in `env` unless it names a range; returns `env`."""
    if not env.get(DISCOVERY_RANGE):
        env[DISCOVERY_RANGE] = DEFAULT_RANGE
    return env


def default_transport(env: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Points Fast DDS at our profile (`configs/ros/fastdds.xml`) in `env` unless a profile
    file is named or another RMW is chosen; returns `env`."""
    rmw = env.get("RMW_IMPLEMENTATION", "")
    if rmw.startswith("rmw_fastrtps") or not rmw:
        if not any(env.get(name) for name in PROFILES_FILE_VARIABLES):
            env[PROFILES_FILE] = str(config_dir() / "ros" / "fastdds.xml")
    return env


def dds_defaults(env: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """`default_discovery` and `default_transport` on `env`; returns `env`."""
    return default_transport(default_discovery(env))
