"""`embodied-mm launch FILE [name:=value ...]`: run a ROS 2 YAML launch file without `ros2 launch`.

The file is the one `ros2 launch embodied_mm X.launch.yaml` runs in a full ROS 2 install;
here it runs where only the PyPI rclpy wheels are installed. `--print` prints each process's
command line instead of running it; `--show-args` lists the arguments the file declares.
A bad file or argument prints one line, `embodied-mm launch: error: FILE:LINE: ...`, and
exits with status 2.

Example:
    embodied-mm launch launch/sim.launch.yaml gui:=false --print
    python -m embodied_mm.launch_runner.cli launch/sim.launch.yaml
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from embodied_mm.launch_runner import model
from embodied_mm.launch_runner.description import load_launch_file
from embodied_mm.launch_runner.model import LaunchError
from embodied_mm.launch_runner.resolve import resolve_launch
from embodied_mm.launch_runner.runner import run


class _UsageError(Exception):
    pass


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block
        raise _UsageError(message)


def parse_launch_arguments(items: Sequence[str]) -> dict[str, str]:
    """`["a:=1", "b:=x y"]` -> `{"a": "1", "b": "x y"}`; raises on an item without `:=`."""
    arguments = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or not name:
            raise _UsageError(f"bad launch argument '{item}': expected name:=value")
        arguments[name] = value
    return arguments


def _declared_args(entities: Sequence[model.Entity]) -> list[model.Arg]:
    found: list[model.Arg] = []
    for e in entities:
        if isinstance(e, model.Arg):
            found.append(e)
        elif isinstance(e, model.Group):
            found += _declared_args(e.children)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `embodied-mm launch`; returns the exit status."""
    parser = _ArgumentParser(prog="embodied-mm launch",
                             description="Run a ROS 2 YAML launch file (the ros2 launch format).")
    parser.add_argument("file", type=Path, help="a *.launch.yaml file")
    parser.add_argument("arguments", nargs="*", metavar="name:=value", help="launch arguments")
    parser.add_argument("--print", action="store_true", dest="print_only",
                        help="print each process's command line instead of running it")
    parser.add_argument("--show-args", action="store_true",
                        help="list the launch arguments the file declares")
    try:
        args = parser.parse_intermixed_args(argv)
        arguments = parse_launch_arguments(args.arguments)
        if not args.file.is_file():
            raise _UsageError(f"no such launch file: {args.file}")
        if args.show_args:
            for arg in _declared_args(load_launch_file(args.file).entities):
                default = "required" if arg.default is None else f"default '{arg.default.template}'"
                print(f"{arg.name}:=  ({default})  {arg.description}".rstrip())
            return 0
        specs = resolve_launch(args.file, arguments)
    except (_UsageError, LaunchError) as err:
        print(f"embodied-mm launch: error: {err}", file=sys.stderr)
        return 2
    if args.print_only:
        for spec in specs:
            print(f"{spec.label}: {shlex.join(spec.cmd)}")
        return 0
    return run(specs)


if __name__ == "__main__":
    sys.exit(main())
