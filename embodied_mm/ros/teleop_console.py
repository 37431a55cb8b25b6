"""`teleop_console`: node entry point of the operator console (`embodied_mm/teleop/`).

Lives here so that `ros2 run embodied_mm teleop_console` and `embodied-mm launch` find it
like every other node.

Example:
    python -m embodied_mm.ros.teleop_console --ros-args -p out_dir:=outputs/teleop/s1
"""

from __future__ import annotations

from embodied_mm.teleop.console_node import main

if __name__ == "__main__":
    raise SystemExit(main())
