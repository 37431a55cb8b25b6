"""Walk a parsed launch file with its launch configurations and build each process's command.

Semantics follow `launch` / `launch_ros`: `arg` takes the value already set (from the command
line or an `include`) else its default; `let` sets a configuration; a scoped `group` (the
default) works on a copy, so nothing set inside leaks out; `include` sets its `arg`s and runs
the file in the *current* scope, as `ros2 launch` does (wrap it in a `group` to scope it); the
pushed ROS namespace is the configuration `ros_namespace`. A node's command line is built as
launch_ros builds it:

    <exec> [args] [--ros-args <ros_args>] --ros-args [-r __node:=NAME] [-r __ns:=/NS]
        [-p name:=value | --params-file FILE]... [-r from:=to]...

Unlike launch_ros, which writes `{name, value}` params to a temporary parameters file, they
are passed as `-p name:=value` (a YAML literal, as rcl reads it): the same values reach the
node, but a `-p` always wins over a `--params-file`, whatever their order in the file.

Includes nest at most `MAX_INCLUDE_DEPTH` files deep, and one launch visits at most
`MAX_ENTITIES` tags over all its files (a file that includes another many times, which
includes another many times, … would otherwise grow without bound).

Example:
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "x.launch.yaml"
    >>> _ = f.write_text("launch:\\n  - arg: {name: who, default: world}\\n"
    ...                  "  - executable: {cmd: echo hello $(var who)}\\n")
    >>> [spec.cmd for spec in resolve_launch(f, {"who": "ada"})]
    [('echo', 'hello', 'ada')]
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path

import yaml

from embodied_mm.launch_runner import model
from embodied_mm.launch_runner.description import LaunchFile, load_launch_file
from embodied_mm.launch_runner.model import LaunchError, Text
from embodied_mm.launch_runner.packages import PackageError, find_executable
from embodied_mm.launch_runner.runner import ProcessSpec
from embodied_mm.launch_runner.substitutions import Scope, SubstitutionError, Template, evaluate

_NODE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAMESPACE = re.compile(r"/|(/[A-Za-z_][A-Za-z0-9_]*)+")
_PLAIN_STRING = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*")
_YAML_WORDS = {"y", "yes", "n", "no", "true", "false", "on", "off", "null", "~"}
_OUTPUTS = ("screen", "log", "both", "own_log")
MAX_INCLUDE_DEPTH = 16
MAX_ENTITIES = 10_000


def resolve_launch(path: Path, arguments: Mapping[str, str],
                   env: Mapping[str, str] | None = None) -> list[ProcessSpec]:
    """The processes that launch file `path` starts, given `name:=value` launch arguments."""
    resolver = _Resolver()
    scope = Scope(dict(arguments), path.absolute(), os.environ if env is None else env)
    resolver.visit(resolver.load(path).entities, scope, (path.resolve(),))
    seen: dict[str, int] = {}
    for i, spec in enumerate(resolver.specs):  # labels must tell processes apart
        seen[spec.label] = seen.get(spec.label, 0) + 1
        if seen[spec.label] > 1:
            resolver.specs[i] = spec.with_label(f"{spec.label}-{seen[spec.label]}")
    return resolver.specs


def _prefix_namespace(base: str | None, ns: str | None) -> str | None:
    if base is None or ns is None or ns.startswith("/"):
        return base if ns is None else ns
    return base.rstrip("/") + "/" + ns


def _yaml_text(value: object) -> str:
    """A parameter value as a YAML literal for `-p name:=value` (rcl parses it as YAML)."""
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_text(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isinf(value) or math.isnan(value):
            return {"inf": ".inf", "-inf": "-.inf"}.get(repr(value), ".nan")
        text = repr(value)
        return text.replace("e", ".0e", 1) if "e" in text and "." not in text else text
    if isinstance(value, str):
        plain = _PLAIN_STRING.fullmatch(value) and value.lower() not in _YAML_WORDS
        return value if plain else json.dumps(value)
    return str(value)


class _Resolver:
    def __init__(self) -> None:
        self.specs: list[ProcessSpec] = []
        self.visited = 0  # tags visited, over every included file
        self.files: dict[Path, LaunchFile] = {}  # parsed once, however often included

    def load(self, path: Path) -> LaunchFile:
        key = path.absolute()
        if key not in self.files:
            self.files[key] = load_launch_file(path)
        return self.files[key]

    def text(self, text: Text, scope: Scope) -> str:
        try:
            return evaluate(text.template, scope)
        except (SubstitutionError, PackageError) as err:
            raise LaunchError(text.where, f"{text.tag}: {err}") from err

    def truth(self, text: Text, scope: Scope) -> bool:
        value = self.text(text, scope).strip().lower()
        if value not in ("true", "1", "false", "0"):
            raise LaunchError(text.where, f"{text.tag}: expected true/false/1/0, got '{value}'")
        return value in ("true", "1")

    def split(self, text: Text, scope: Scope) -> list[str]:
        """A command line: literal text is split like a shell would, substitution results are
        never split (as launch's `_parse_cmdline`)."""
        pieces = [p if isinstance(p, str) else
                  shlex.quote(self.text(Text(Template((p,)), text.where, text.tag), scope))
                  for p in text.template.parts]
        try:
            return shlex.split("".join(pieces))
        except ValueError as err:
            raise LaunchError(text.where, f"{text.tag}: {err}") from err

    def visit(self, entities: tuple[model.Entity, ...], scope: Scope,
              stack: tuple[Path, ...]) -> None:
        for e in entities:
            self.visited += 1
            if self.visited > MAX_ENTITIES:
                raise LaunchError(e.where, f"the launch visits more than {MAX_ENTITIES} tags "
                                           "(an include repeated many times?)")
            if e.condition and self.truth(e.condition.expression, scope) == e.condition.negate:
                continue
            match e:
                case model.Arg():
                    self.arg(e, scope)
                case model.Let():
                    scope.configs[self.text(e.name, scope)] = self.text(e.value, scope)
                case model.Group():
                    keep = {self.text(k, scope): self.text(v, scope) for k, v in e.keep}
                    inner = scope
                    if e.scoped:
                        configs = dict(scope.configs) if e.forwarding else {}
                        inner = Scope(configs, scope.file, scope.env)
                    inner.configs.update(keep)
                    self.visit(e.children, inner, stack)
                case model.PushNamespace():
                    pushed = _prefix_namespace(scope.configs.get("ros_namespace"),
                                               self.text(e.namespace, scope))
                    scope.configs["ros_namespace"] = pushed
                case model.Include():
                    self.include(e, scope, stack)
                case model.Node():
                    self.specs.append(self.node(e, scope))
                case model.Executable():
                    cmd = self.split(e.cmd, scope)
                    if not cmd:
                        raise LaunchError(e.cmd.where, "executable: empty command")
                    label = self.text(e.label, scope) if e.label else Path(cmd[0]).name
                    self.specs.append(self.process(e, scope, label, cmd))

    def arg(self, e: model.Arg, scope: Scope) -> None:
        if e.name not in scope.configs:
            if e.default is None:
                raise LaunchError(e.where, f"arg '{e.name}': required launch argument not given "
                                           f"(add {e.name}:=VALUE)")
            scope.configs[e.name] = self.text(e.default, scope)
        if e.choices and scope.configs[e.name] not in e.choices:
            raise LaunchError(e.where, f"arg '{e.name}': '{scope.configs[e.name]}' is not one of "
                                       f"{', '.join(e.choices)}")

    def include(self, e: model.Include, scope: Scope, stack: tuple[Path, ...]) -> None:
        path = Path(self.text(e.file, scope))  # relative to the working directory, as launch
        if not path.is_file():
            raise LaunchError(e.file.where, f"include: no such launch file: {path}")
        if not path.name.endswith((".yaml", ".yml")):
            raise LaunchError(e.file.where, f"include: only YAML launch files are supported, "
                                            f"not {path.name}")
        if path.resolve() in stack:
            raise LaunchError(e.file.where, f"include: {path} includes itself")
        if len(stack) >= MAX_INCLUDE_DEPTH:
            raise LaunchError(e.file.where, f"include: more than {MAX_INCLUDE_DEPTH} files "
                                            "deep")
        for name, value in e.args:
            scope.configs[self.text(name, scope)] = self.text(value, scope)
        included = Scope(scope.configs, path.absolute(), scope.env)  # same dict: not scoped
        self.visit(self.load(path).entities, included, (*stack, path.resolve()))

    def node(self, e: model.Node, scope: Scope) -> ProcessSpec:
        exe = self.text(e.exec, scope)
        cmd = [exe]
        if e.pkg is not None:
            try:
                cmd = find_executable(self.text(e.pkg, scope), exe, scope.env)
            except PackageError as err:
                raise LaunchError(e.pkg.where, f"node: {err}") from err
        cmd += self.split(e.args, scope) if e.args else []
        cmd += ["--ros-args", *self.split(e.ros_args, scope)] if e.ros_args else []
        cmd.append("--ros-args")
        name = self.text(e.name, scope) if e.name else None
        if name is not None:
            if not _NODE_NAME.fullmatch(name):
                raise LaunchError(e.name.where, f"node: invalid node name '{name}'")
            cmd += ["-r", f"__node:={name}"]
        ns = _prefix_namespace(scope.configs.get("ros_namespace"),
                               self.text(e.namespace, scope) if e.namespace else None)
        if ns is not None:
            ns = ns if ns.startswith("/") else "/" + ns
            if not _NAMESPACE.fullmatch(ns):
                raise LaunchError((e.namespace or e).where, f"node: invalid namespace '{ns}'")
            cmd += ["-r", f"__ns:={ns}"]
        for param in e.params:
            cmd += self.param(param, scope)
        for remap in e.remaps:
            cmd += ["-r", f"{self.text(remap.source, scope)}:={self.text(remap.target, scope)}"]
        label = self.text(e.label, scope) if e.label else name or Path(exe).name
        return self.process(e, scope, label, cmd)

    def param(self, param: model.Param | model.ParamFile, scope: Scope) -> list[str]:
        if isinstance(param, model.ParamFile):
            path = Path(self.text(param.path, scope)).absolute()
            if not path.is_file():
                raise LaunchError(param.path.where, f"param: no such parameters file: {path}")
            return ["--params-file", str(path)]
        name = ".".join(self.text(n, scope) for n in param.names)
        if isinstance(param.value, list):
            value = [self.text(v, scope) if isinstance(v, Text) else v for v in param.value]
        elif not isinstance(param.value, Text) or not param.value.template.has_substitutions:
            value = self.text(param.value, scope) if isinstance(param.value, Text) else param.value
        else:  # launch_ros reads a substituted value as YAML, and so does this
            value = self.yaml_value(param.value, scope)
        return ["-p", f"{name}:={_yaml_text(value)}"]

    def yaml_value(self, text: Text, scope: Scope) -> object:
        value = self.text(text, scope)
        if not value.strip():
            return ""  # an argument left empty (e.g. an optional path): the empty string
        try:
            loaded = yaml.safe_load(value)
        except yaml.YAMLError:
            loaded = None
        items = loaded if isinstance(loaded, list) else [loaded]
        if not all(isinstance(v, (str, bool, int, float)) for v in items):
            raise LaunchError(text.where, f"param: '{value}' is not a YAML scalar or list of them")
        return loaded

    def process(self, e: model.Process, scope: Scope, label: str, cmd: list[str]) -> ProcessSpec:
        output = self.text(e.output, scope) if e.output else "log"
        if output not in _OUTPUTS:
            raise LaunchError(e.output.where, f"{e.output.tag}: output must be one of "
                                              f"{', '.join(_OUTPUTS)}, got '{output}'")
        timeouts = []
        for given, key in ((e.sigterm_timeout, "sigterm_timeout"),
                           (e.sigkill_timeout, "sigkill_timeout")):
            try:
                timeouts.append(float(scope.configs.get(key, "5.0")) if given is None else given)
            except ValueError as err:
                raise LaunchError(e.where, f"launch configuration {key}: {err}") from err
        respawn = e.respawn if isinstance(e.respawn, bool) else (
            e.respawn is not None and self.truth(e.respawn, scope))
        return ProcessSpec(
            label=label, cmd=tuple(cmd), where=str(e.where),
            cwd=self.text(e.cwd, scope) if e.cwd else None,
            env={self.text(k, scope): self.text(v, scope) for k, v in e.env},
            respawn=respawn, respawn_delay=e.respawn_delay,
            respawn_max_retries=-1 if e.respawn_max_retries is None else e.respawn_max_retries,
            shutdown_on_exit=e.shutdown_on_exit,
            sigterm_timeout=timeouts[0], sigkill_timeout=timeouts[1])
