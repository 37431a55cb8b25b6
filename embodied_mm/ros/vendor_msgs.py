"""Copies the message definitions the recorder needs from a ROS 2 install into `ros/msg/`.

The MCAP writers give every channel its `ros2msg` schema and its REP-2011 type hash; keeping
the definition texts (`ros/msg/<pkg>/<Type>.msg`) and hashes (`ros/msg/type_hashes.json`) in
the package means recording works on any install. Re-run after adding a topic type to
`topics.TOPIC_TYPES` (the `ros` extra's wheels install the sources under `<venv>/share`):

    python -m embodied_mm.ros.vendor_msgs            # from sys.prefix/share
    python -m embodied_mm.ros.vendor_msgs /opt/ros/kilted/share
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from embodied_mm.ros import topics
from embodied_mm.ros.mcap_schema import HASHES_FILE, MSG_DIR, field_types


def vendor(share: Path, out: Path = MSG_DIR) -> list[str]:
    """Copies the definitions of `topics.TOPIC_TYPES` and their dependencies from `share`
    into `out`, with their type hashes; returns the `pkg/Type` names written."""
    todo, seen = sorted(set(topics.TOPIC_TYPES.values())), []
    hashes = {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        pkg, typ = name.split("/")
        text = (share / pkg / "msg" / f"{typ}.msg").read_text()
        (out / pkg).mkdir(parents=True, exist_ok=True)
        (out / pkg / f"{typ}.msg").write_text(text)
        hashes[name] = installed_type_hash(share, name)
        todo += field_types(text, pkg)
    (out / HASHES_FILE).write_text(json.dumps(dict(sorted(hashes.items())), indent=1) + "\n")
    return sorted(seen)


def installed_type_hash(share: Path, type_name: str) -> str:
    """The `RIHS01_…` hash rosidl generated for `pkg/Type` (`share/<pkg>/msg/<Type>.json`)."""
    pkg, typ = type_name.split("/")
    data = json.loads((share / pkg / "msg" / f"{typ}.json").read_text())
    full = f"{pkg}/msg/{typ}"
    return next(h["hash_string"] for h in data["type_hashes"] if h["type_name"] == full)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    share = Path(args[0]) if args else Path(sys.prefix) / "share"
    names = vendor(share)
    print(f"wrote {len(names)} definitions and their type hashes to {MSG_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
