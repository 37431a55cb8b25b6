"""ROS 2 YAML launch files (the `launch_yaml` frontend) parsed into a small typed model.

Every value keeps the file and line it was written on, so that errors read
`launch/x.launch.yaml:12: unknown tag 'nod'`. Strings are parsed for `$(...)` substitutions
here and evaluated later, by `resolve.py`. Attribute types follow `launch_yaml`, which does no
type coercion: text attributes must be YAML strings (`default: '3'`, not `default: 3`),
`respawn_delay` a float (`2.0`), `scoped` a bool, as `ros2 launch` requires them.

YAML aliases are allowed, but a file is refused before it is parsed when, with its aliases
expanded, it holds more than `MAX_NODES` YAML nodes or nests deeper than `MAX_DEPTH` (an
"alias bomb" of a few kB would otherwise expand to gigabytes), or when an alias refers to a
node that contains it (a recursive alias).

Example:
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "x.launch.yaml"
    >>> _ = f.write_text("launch:\\n  - let: {name: robot, value: panda}\\n")
    >>> load_launch_file(f).entities[0].where.line
    2
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import yaml

from embodied_mm.launch_runner import model
from embodied_mm.launch_runner.model import LaunchError, LaunchFile, Text, Where
from embodied_mm.launch_runner.substitutions import SubstitutionError, parse_template

__all__ = ["LaunchError", "LaunchFile", "load_launch_file"]

MAX_NODES = 50_000  # YAML nodes with aliases expanded; the shipped files hold a few hundred
MAX_DEPTH = 100  # YAML nesting levels; a group adds about four
_STR, _BOOL, _INT, _FLOAT = (f"tag:yaml.org,2002:{t}" for t in ("str", "bool", "int", "float"))
_PROCESS_ATTRS = {"name", "cwd", "env", "output", "respawn", "respawn_delay",
                  "respawn_max_retries", "on_exit", "sigterm_timeout", "sigkill_timeout"}
_NODE_ATTRS = _PROCESS_ATTRS | {"pkg", "exec", "exec_name", "namespace", "args", "ros_args",
                                "param", "remap"}


def display_path(path: Path) -> str:
    """`path` relative to the working directory when it lies below it, else absolute."""
    path = path.absolute()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_launch_file(path: Path) -> LaunchFile:
    """Read and check one launch file (includes are read when resolved, since their path may
    hold substitutions); raises `LaunchError` naming the file, line and tag."""
    shown = display_path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise LaunchError(None, f"cannot read launch file {shown}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise LaunchError(None, f"{shown} is not UTF-8 text (byte {err.start})") from None
    try:
        loader = yaml.SafeLoader(text)
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise LaunchError(Where(shown, mark.line + 1 if mark else 0),
                          f"invalid YAML: {err.problem}") from err
    except yaml.YAMLError as err:  # e.g. a control character, found before parsing
        raise LaunchError(Where(shown, 1), f"invalid YAML: {err}") from None
    except RecursionError:
        raise LaunchError(Where(shown, 1), "YAML nested too deeply to read") from None
    if root is not None:
        _check_size(root, shown)
    if not (isinstance(root, yaml.MappingNode) and len(root.value) == 1
            and root.value[0][0].value == "launch"):
        raise LaunchError(Where(shown, 1), "a launch file is a mapping with one key, 'launch'")
    entities = _Parser(shown, loader).entities(root.value[0][1], "launch")
    return LaunchFile(path.absolute(), shown, entities)


def _check_size(root: yaml.Node, shown: str) -> None:
    """Walks the node graph as the parser will (aliases expanded), without recursion; raises
    LaunchError past `MAX_NODES` nodes or `MAX_DEPTH` levels, or on a recursive alias."""
    on_path: set[int] = set()
    todo: list[tuple[yaml.Node, int, bool]] = [(root, 0, False)]
    visited = 0
    while todo:
        node, depth, leaving = todo.pop()
        if leaving:
            on_path.discard(id(node))
            continue
        where = Where(shown, node.start_mark.line + 1)
        if id(node) in on_path:
            raise LaunchError(where, "recursive YAML alias: a node contains itself")
        visited += 1
        if visited > MAX_NODES:
            raise LaunchError(Where(shown, 1), f"more than {MAX_NODES} YAML nodes with aliases "
                                               "expanded (nested aliases?)")
        if depth > MAX_DEPTH:
            raise LaunchError(where, f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, yaml.ScalarNode):
            continue
        on_path.add(id(node))
        todo.append((node, depth, True))
        children = node.value if isinstance(node, yaml.SequenceNode) else \
            [n for pair in node.value for n in pair]
        todo.extend((child, depth + 1, False) for child in reversed(children))


@dataclass
class _Attrs:
    """The attributes of one tag, checked against the allowed names."""

    parser: _Parser
    node: yaml.Node
    tag: str
    nodes: dict[str, yaml.Node]

    def where(self) -> Where:
        return self.parser.where(self.node)

    def has(self, name: str) -> bool:
        return name in self.nodes

    def text(self, name: str) -> Text | None:
        return self.parser.text(self.nodes[name], self.tag, name) if name in self.nodes else None

    def plain(self, name: str) -> str | None:
        """A string attribute taken as is, without substitutions (like `arg` `name`)."""
        if name not in self.nodes:
            return None
        return self.parser.string(self.nodes[name], self.tag, name)

    def typed(self, name: str, yaml_tag: str, hint: str) -> object:
        if name not in self.nodes:
            return None
        node = self.nodes[name]
        if node.tag != yaml_tag:
            self.parser.fail(node, f"{self.tag}: attribute '{name}' must be {hint}")
        return self.parser.loader.construct_object(node)

    def items(self, name: str) -> list[yaml.Node]:
        node = self.nodes.get(name)
        if node is None:
            return []
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.parser.fail(node, f"{self.tag}: '{name}' must be a non-empty list of mappings")
        return node.value

    def condition(self) -> model.Condition | None:
        if self.has("if") and self.has("unless"):
            self.parser.fail(self.node, f"{self.tag}: 'if' and 'unless' exclude each other")
        name = "if" if self.has("if") else "unless"
        text = self.text(name)
        return None if text is None else model.Condition(text, negate=name == "unless")


class _Parser:
    def __init__(self, file: str, loader: yaml.SafeLoader) -> None:
        self.file, self.loader = file, loader

    def where(self, node: yaml.Node) -> Where:
        return Where(self.file, node.start_mark.line + 1)

    def fail(self, node: yaml.Node, message: str) -> NoReturn:
        raise LaunchError(self.where(node), message)

    def attrs(self, node: yaml.Node, tag: str, allowed: set[str], required: tuple[str, ...] = (),
              action: bool = False) -> _Attrs:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{tag}: expected a mapping of attributes")
        allowed = allowed | {"if", "unless"} if action else allowed
        nodes: dict[str, yaml.Node] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.value not in allowed:
                self.fail(key, f"{tag}: unknown attribute '{key.value}' "
                               f"(allowed: {', '.join(sorted(allowed))})")
            if key.value in nodes:
                self.fail(key, f"{tag}: attribute '{key.value}' given twice")
            nodes[key.value] = value
        for name in required:
            if name not in nodes:
                self.fail(node, f"{tag}: missing attribute '{name}'")
        return _Attrs(self, node, tag, nodes)

    def string(self, node: yaml.Node, tag: str, name: str) -> str:
        if node.tag != _STR:
            self.fail(node, f"{tag}: attribute '{name}' must be a string; quote it: "
                            f"{name}: '{getattr(node, 'value', '')}'")
        return node.value

    def text(self, node: yaml.Node, tag: str, name: str) -> Text:
        try:
            template = parse_template(self.string(node, tag, name))
        except SubstitutionError as err:
            self.fail(node, f"{tag}: {err}")
        return Text(template, self.where(node), tag)

    def pairs(self, a: _Attrs, name: str, first: str, second: str) -> tuple[tuple[Text, Text], ...]:
        pairs = [self.attrs(n, name, {first, second}, (first, second)) for n in a.items(name)]
        return tuple((p.text(first), p.text(second)) for p in pairs)

    def entities(self, node: yaml.Node, parent: str) -> tuple[model.Entity, ...]:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, f"{parent}: expected a list of tags like '- node: {{...}}'")
        out = []
        for item in node.value:
            if not isinstance(item, yaml.MappingNode) or len(item.value) != 1:
                self.fail(item, f"{parent}: each list item must hold exactly one tag")
            key, value = item.value[0]
            handler = _TAGS.get(key.value) if isinstance(key, yaml.ScalarNode) else None
            if handler is None:
                self.fail(key, f"unknown tag '{key.value}' (supported: {', '.join(_TAGS)})")
            out.append(handler(self, value, key.value))
        return tuple(out)

    def arg(self, node: yaml.Node, tag: str) -> model.Arg:
        a = self.attrs(node, tag, {"name", "default", "description", "choice"}, ("name",), True)
        choices = [self.attrs(c, "choice", {"value"}, ("value",)) for c in a.items("choice")]
        return model.Arg(where=a.where(), condition=a.condition(), name=a.plain("name"),
                         default=a.text("default"), description=a.plain("description") or "",
                         choices=tuple(c.plain("value") for c in choices))

    def let(self, node: yaml.Node, tag: str) -> model.Let:
        a = self.attrs(node, tag, {"name", "value"}, ("name", "value"), True)
        return model.Let(where=a.where(), condition=a.condition(), name=a.text("name"),
                         value=a.text("value"))

    def include(self, node: yaml.Node, tag: str) -> model.Include:
        if isinstance(node, yaml.ScalarNode):  # `- include: FILE`
            return model.Include(where=self.where(node), condition=None,
                                 file=self.text(node, tag, "file"), args=())
        a = self.attrs(node, tag, {"file", "arg"}, ("file",), True)
        return model.Include(where=a.where(), condition=a.condition(), file=a.text("file"),
                             args=self.pairs(a, "arg", "name", "value"))

    def group(self, node: yaml.Node, tag: str) -> model.Group:
        if isinstance(node, yaml.SequenceNode):  # `- group: [children...]`
            return model.Group(where=self.where(node), condition=None, scoped=True,
                               forwarding=True, keep=(), children=self.entities(node, tag))
        a = self.attrs(node, tag, {"scoped", "forwarding", "keep", "children"}, ("children",), True)
        scoped, forwarding = (a.typed(f, _BOOL, "true or false") for f in ("scoped", "forwarding"))
        return model.Group(where=a.where(), condition=a.condition(), scoped=scoped is not False,
                           forwarding=forwarding is not False,
                           keep=self.pairs(a, "keep", "name", "value"),
                           children=self.entities(a.nodes["children"], tag))

    def push_namespace(self, node: yaml.Node, tag: str) -> model.PushNamespace:
        a = self.attrs(node, tag, {"namespace"}, ("namespace",), True)
        return model.PushNamespace(where=a.where(), condition=a.condition(),
                                   namespace=a.text("namespace"))

    def process_fields(self, a: _Attrs) -> dict[str, object]:
        on_exit = a.plain("on_exit")
        if on_exit not in (None, "shutdown"):
            self.fail(a.nodes["on_exit"], f"{a.tag}: on_exit must be 'shutdown', got '{on_exit}'")
        respawn_is_bool = a.has("respawn") and a.nodes["respawn"].tag == _BOOL
        return dict(
            where=a.where(), condition=a.condition(), cwd=a.text("cwd"), output=a.text("output"),
            env=self.pairs(a, "env", "name", "value"), shutdown_on_exit=on_exit == "shutdown",
            respawn=a.typed("respawn", _BOOL, "") if respawn_is_bool else a.text("respawn"),
            respawn_delay=a.typed("respawn_delay", _FLOAT, "a float like 2.0") or 0.0,
            respawn_max_retries=a.typed("respawn_max_retries", _INT, "an integer"),
            sigterm_timeout=a.typed("sigterm_timeout", _FLOAT, "a float like 5.0"),
            sigkill_timeout=a.typed("sigkill_timeout", _FLOAT, "a float like 5.0"))

    def executable(self, node: yaml.Node, tag: str) -> model.Executable:
        a = self.attrs(node, tag, _PROCESS_ATTRS | {"cmd"}, ("cmd",), True)
        return model.Executable(cmd=a.text("cmd"), label=a.text("name"), **self.process_fields(a))

    def node(self, node: yaml.Node, tag: str) -> model.Node:
        a = self.attrs(node, tag, _NODE_ATTRS, ("exec",), True)
        remaps = tuple(model.Remap(*p) for p in self.pairs(a, "remap", "from", "to"))
        return model.Node(pkg=a.text("pkg"), exec=a.text("exec"), name=a.text("name"),
                          label=a.text("exec_name"), namespace=a.text("namespace"),
                          args=a.text("args"), ros_args=a.text("ros_args"),
                          params=self.params(a.items("param"), ()), remaps=remaps,
                          **self.process_fields(a))

    def params(self, nodes: list[yaml.Node], prefix: tuple[Text, ...]
               ) -> tuple[model.Param | model.ParamFile, ...]:
        out: list[model.Param | model.ParamFile] = []
        for n in nodes:
            a = self.attrs(n, "param", {"name", "value", "from", "param"})
            if a.has("from"):
                if prefix or len(a.nodes) > 1:
                    self.fail(n, "param: 'from' takes no name/value/param and cannot be nested")
                out.append(model.ParamFile(a.text("from")))
            elif not a.has("name") or a.has("value") == a.has("param"):
                self.fail(n, "param: give 'name' and one of 'value' or nested 'param' (or 'from')")
            elif a.has("value"):
                names = (*prefix, a.text("name"))
                out.append(model.Param(names, self.param_value(a.nodes["value"])))
            else:
                out.extend(self.params(a.items("param"), (*prefix, a.text("name"))))
        return tuple(out)

    def param_value(self, node: yaml.Node) -> model.ParamValue:
        if isinstance(node, yaml.SequenceNode):
            return [self.param_scalar(item) for item in node.value]
        return self.param_scalar(node)

    def param_scalar(self, node: yaml.Node) -> model.ParamScalar:
        if node.tag == _STR:
            return self.text(node, "param", "value")
        if node.tag not in (_BOOL, _INT, _FLOAT):
            self.fail(node, "param: value must be a string, number, bool or a list of those")
        return self.loader.construct_object(node)


_TAGS = {"arg": _Parser.arg, "let": _Parser.let, "node": _Parser.node,
         "executable": _Parser.executable, "include": _Parser.include, "group": _Parser.group,
         "push-ros-namespace": _Parser.push_namespace,
         "push_ros_namespace": _Parser.push_namespace}
