"""ROS 2 `ros2msg` schema texts and REP-2011 type hashes for MCAP, from `ros/msg/`.

A schema is the type's own definition followed by each dependency's, separated by a line of
`=` and a `MSG: pkg/Type` header, the layout rosbag2 and Foxglove read. The definitions and
hashes are copied from a ROS 2 install by `python -m embodied_mm.ros.vendor_msgs`.

Example:
    >>> "MSG: std_msgs/Header" in schema_text("sensor_msgs/Image")
    True
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

MSG_DIR = Path(__file__).parent / "msg"
HASHES_FILE = "type_hashes.json"  # {"pkg/Type": "RIHS01_<sha256>"}
SEPARATOR = "=" * 80


def _definition(type_name: str) -> str:
    pkg, typ = type_name.split("/")
    path = MSG_DIR / pkg / f"{typ}.msg"
    if not path.is_file():
        raise KeyError(f"no vendored definition for {type_name} in {MSG_DIR} "
                       "(run python -m embodied_mm.ros.vendor_msgs)")
    return path.read_text()


def field_types(text: str, pkg: str) -> list[str]:
    """The `pkg/Type` names of the message-typed fields in a .msg text (constants skipped)."""
    types = []
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if not line or "=" in line.split()[0] or len(line.split()) < 2:
            continue
        base = line.split()[0].split("[")[0].split("<=")[0]
        if base[0].isupper() or "/" in base:
            name = base if "/" in base else f"{pkg}/{base}"
            types.append(name.replace("/msg/", "/"))
    return types


@cache
def schema_text(type_name: str) -> str:
    """The full ros2msg schema of `pkg/Type` (dependencies depth-first, each once)."""
    order: list[str] = []

    def visit(name: str) -> None:
        for dep in field_types(_definition(name), name.split("/")[0]):
            if dep not in order:
                order.append(dep)
                visit(dep)

    visit(type_name)
    parts = [_definition(type_name).rstrip()]
    parts += [f"{SEPARATOR}\nMSG: {dep}\n{_definition(dep).rstrip()}" for dep in order]
    return "\n".join(parts) + "\n"


def type_hash(type_name: str) -> str:
    """The REP-2011 hash (`RIHS01_…`) of `pkg/Type`, as rosbag2 stores in channel metadata."""
    hashes = _hashes()
    if type_name not in hashes:
        raise KeyError(f"no vendored type hash for {type_name} in {MSG_DIR / HASHES_FILE} "
                       "(run python -m embodied_mm.ros.vendor_msgs)")
    return hashes[type_name]


@cache
def _hashes() -> dict[str, str]:
    return json.loads((MSG_DIR / HASHES_FILE).read_text())


def ros_type(type_name: str) -> str:
    """`pkg/Type` -> `pkg/msg/Type`, the name ROS 2 tools expect in MCAP schemas."""
    pkg, typ = type_name.split("/")
    return f"{pkg}/msg/{typ}"


class RosChannels:
    """Registers ROS 2 channels on an `mcap.writer.Writer` the way rosbag2 does: one `ros2msg`
    schema per message type, each channel with its `offered_qos_profiles` (YAML, see
    `ros.qos.qos_yaml`) and `topic_type_hash` metadata."""

    def __init__(self, writer) -> None:
        self.writer = writer
        self.schemas: dict[str, int] = {}  # pkg/Type -> schema id
        self.channels: dict[str, int] = {}  # topic -> channel id

    def add(self, topic: str, type_name: str, offered_qos_profiles: str) -> int:
        """Registers `topic` (once) and returns its channel id."""
        if topic in self.channels:
            return self.channels[topic]
        if type_name not in self.schemas:
            self.schemas[type_name] = self.writer.register_schema(
                ros_type(type_name), "ros2msg", schema_text(type_name).encode())
        self.channels[topic] = self.writer.register_channel(
            topic, "cdr", self.schemas[type_name],
            metadata={"offered_qos_profiles": offered_qos_profiles,
                      "topic_type_hash": type_hash(type_name)})
        return self.channels[topic]
