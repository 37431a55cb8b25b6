"""The typed model of a parsed launch file: one dataclass per tag, each with its file and line.

Tags map onto the `launch` / `launch_ros` actions of the same frontend name: `arg`
(DeclareLaunchArgument), `let` (SetLaunchConfiguration), `node` (Node), `executable`
(ExecuteProcess), `include` (IncludeLaunchDescription), `group` (GroupAction),
`push-ros-namespace` (PushRosNamespace).

Example:
    >>> from embodied_mm.launch_runner.substitutions import parse_template
    >>> str(Text(parse_template("$(var x)"), Where("a.launch.yaml", 3), "let").where)
    'a.launch.yaml:3'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from embodied_mm.launch_runner.substitutions import Template


@dataclass(frozen=True)
class Where:
    """A place in a launch file, shown as `file:line`."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class LaunchError(Exception):
    """A launch file that cannot be parsed or resolved; the message starts with `file:line:`."""

    def __init__(self, where: Where | None, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class Text:
    """A string attribute: its parsed template, where it was written, and the enclosing tag."""

    template: Template
    where: Where
    tag: str


@dataclass(frozen=True)
class Condition:
    """`if: EXPR` (negate=False) or `unless: EXPR` (negate=True)."""

    expression: Text
    negate: bool


@dataclass(frozen=True, kw_only=True)
class Entity:
    """What every tag has: where it was written, and an optional condition."""

    where: Where
    condition: Condition | None


@dataclass(frozen=True, kw_only=True)
class Arg(Entity):
    """`arg`: declares a launch argument; required when it has no default."""

    name: str
    default: Text | None
    description: str
    choices: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Let(Entity):
    """`let`: sets a launch configuration in the current scope."""

    name: Text
    value: Text


@dataclass(frozen=True, kw_only=True)
class Group(Entity):
    """`group`: children run in a copy of the configurations when scoped (the default)."""

    scoped: bool
    forwarding: bool
    keep: tuple[tuple[Text, Text], ...]
    children: tuple[Entity, ...]


@dataclass(frozen=True, kw_only=True)
class PushNamespace(Entity):
    """`push-ros-namespace`: prefixes the namespace of the nodes that follow, in this scope."""

    namespace: Text


@dataclass(frozen=True, kw_only=True)
class Include(Entity):
    """`include`: sets `args` as configurations, then runs the other file in this scope."""

    file: Text
    args: tuple[tuple[Text, Text], ...]


ParamScalar = Text | bool | int | float
ParamValue = ParamScalar | list[ParamScalar]


@dataclass(frozen=True)
class Param:
    """`{name, value}`; nested `param` lists become a dotted name path."""

    names: tuple[Text, ...]
    value: ParamValue


@dataclass(frozen=True)
class ParamFile:
    """`{from: FILE}`: a ROS 2 parameters YAML file."""

    path: Text


@dataclass(frozen=True)
class Remap:
    """`{from, to}`: a topic/service/node-name remapping rule."""

    source: Text
    target: Text


@dataclass(frozen=True, kw_only=True)
class Process(Entity):
    """What `node` and `executable` share (ExecuteProcess attributes)."""

    label: Text | None
    cwd: Text | None
    env: tuple[tuple[Text, Text], ...]
    output: Text | None
    respawn: bool | Text | None
    respawn_delay: float
    respawn_max_retries: int | None
    shutdown_on_exit: bool
    sigterm_timeout: float | None
    sigkill_timeout: float | None


@dataclass(frozen=True, kw_only=True)
class Executable(Process):
    """`executable`: any command line."""

    cmd: Text


@dataclass(frozen=True, kw_only=True)
class Node(Process):
    """`node`: executable `exec` of package `pkg`, with ROS arguments."""

    pkg: Text | None
    exec: Text
    name: Text | None
    namespace: Text | None
    args: Text | None
    ros_args: Text | None
    params: tuple[Param | ParamFile, ...]
    remaps: tuple[Remap, ...]


@dataclass(frozen=True)
class LaunchFile:
    """One parsed file: its absolute path, the path shown in messages, its top-level tags."""

    path: Path
    shown: str
    entities: tuple[Entity, ...]
