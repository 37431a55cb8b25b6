"""ROS 2 `ros2msg` schema texts for MCAP, built from the .msg files kept in `ros/msg/`.

A schema is the type's own definition followed by each dependency's, separated by a line of
`=` and a `MSG: pkg/Type` header, the layout rosbag2 and Foxglove read.

Example:
    >>> "MSG: std_msgs/Header" in schema_text("sensor_msgs/Image")
    True
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

MSG_DIR = Path(__file__).parent / "msg"
SEPARATOR = "=" * 80


def _definition(type_name: str) -> str:
    pkg, typ = type_name.split("/")
    path = MSG_DIR / pkg / f"{typ}.msg"
    if not path.is_file():
        raise KeyError(f"no vendored definition for {type_name} in {MSG_DIR} "
                       "(run tools/vendor_msgdefs.py)")
    return path.read_text()


def _field_types(text: str, pkg: str) -> list[str]:
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
        for dep in _field_types(_definition(name), name.split("/")[0]):
            if dep not in order:
                order.append(dep)
                visit(dep)

    visit(type_name)
    parts = [_definition(type_name).rstrip()]
    parts += [f"{SEPARATOR}\nMSG: {dep}\n{_definition(dep).rstrip()}" for dep in order]
    return "\n".join(parts) + "\n"


def ros_type(type_name: str) -> str:
    """`pkg/Type` -> `pkg/msg/Type`, the name ROS 2 tools expect in MCAP schemas."""
    pkg, typ = type_name.split("/")
    return f"{pkg}/msg/{typ}"
