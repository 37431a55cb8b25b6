"""`embodied-mm launch`: run ROS 2 YAML launch files where the `launch` package is missing.

The PyPI rclpy wheels ship neither `launch` nor the `ros2` CLI; this package reads the same
`*.launch.yaml` files as `ros2 launch` (tags `arg let node executable include group
push-ros-namespace`, substitutions `var env optenv find-pkg-share dirname`) and runs one OS
process per node. Modules: `substitutions` ($(...) syntax), `model` + `description` (typed,
line-numbered parse), `packages` (ament-style look-ups), `resolve` (commands), `runner`
(processes, output, signals), `cli`.

Example:
    embodied-mm launch launch/sim.launch.yaml gui:=false
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """`embodied-mm launch FILE [name:=value ...] [--print]`; see `launch_runner.cli`."""
    from embodied_mm.launch_runner.cli import main as cli_main  # lazy: keeps `-m ...cli` clean

    return cli_main(argv)
