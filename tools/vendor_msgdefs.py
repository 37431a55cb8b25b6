"""Copies the .msg definitions the recorder needs (and their dependencies) into the repo.

The MCAP recorder writes ROS 2 `ros2msg` schemas; keeping the definition texts in
`embodied_mm/ros/msg/` means recording works on any install. Re-run after adding a topic type:

    .venv/bin/python tools/vendor_msgdefs.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOTS = ["sensor_msgs/Image", "sensor_msgs/CameraInfo", "sensor_msgs/JointState",
         "std_msgs/String", "std_msgs/Bool", "std_msgs/Float32MultiArray",
         "trajectory_msgs/JointTrajectory", "visualization_msgs/MarkerArray",
         "geometry_msgs/TwistStamped", "diagnostic_msgs/DiagnosticStatus"]
PRIMITIVES = {"bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16",
              "int32", "uint32", "int64", "uint64", "string", "wstring"}


def main() -> None:
    share = Path(sys.prefix) / "share"
    out = Path(__file__).resolve().parents[1] / "embodied_mm" / "ros" / "msg"
    todo, seen = list(ROOTS), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        pkg, typ = name.split("/")
        text = (share / pkg / "msg" / f"{typ}.msg").read_text()
        (out / pkg).mkdir(parents=True, exist_ok=True)
        (out / pkg / f"{typ}.msg").write_text(text)
        for field_type in dependencies(text, pkg):
            todo.append(field_type)
    print(f"wrote {len(seen)} definitions to {out}")


def dependencies(text: str, pkg: str) -> list[str]:
    deps = []
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if not line or "=" in line.split()[0]:
            continue
        base = re.sub(r"(\[.*\]|<=\d+)$", "", line.split()[0])
        base = re.sub(r"<=\d+", "", base)
        if base in PRIMITIVES or re.fullmatch(r"(w?string)", base):
            continue
        deps.append(base if "/" in base else f"{pkg}/{base}")
    return [d.replace("/msg/", "/") for d in deps]


if __name__ == "__main__":
    main()
