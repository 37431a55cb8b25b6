"""`$(...)` substitutions of the ROS 2 launch frontend: parsing and evaluation.

The grammar follows `launch/frontend/grammar.lark`: `$(name arg arg ...)`, arguments separated
by a space, each either unquoted (may nest substitutions) or quoted with '...' or "...";
a backslash escapes the next character; a `$` not followed by `(` is literal.

Example:
    >>> t = parse_template("$(var robot)_$(env USER nobody)")
    >>> evaluate(t, Scope({"robot": "panda"}, Path("x.launch.yaml")), {"USER": "ada"})
    'panda_ada'
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from embodied_mm.launch_runner.packages import find_package_share

# substitution name -> (min args, max args)
ARITY: dict[str, tuple[int, int]] = {
    "var": (1, 1), "env": (1, 2), "optenv": (1, 2), "find-pkg-share": (1, 1), "dirname": (0, 0),
}
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


class SubstitutionError(ValueError):
    """A `$(...)` expression that cannot be parsed or evaluated; the caller adds file:line."""


@dataclass(frozen=True)
class Substitution:
    """One `$(name args...)`; each argument is itself a template."""

    name: str
    args: tuple[Template, ...]

    def __str__(self) -> str:
        return "$(" + " ".join([self.name, *(str(a) for a in self.args)]) + ")"


@dataclass(frozen=True)
class Template:
    """A string with substitutions: a sequence of literal text and `Substitution` parts."""

    parts: tuple[str | Substitution, ...]

    @property
    def has_substitutions(self) -> bool:
        return any(isinstance(p, Substitution) for p in self.parts)

    def __str__(self) -> str:
        return "".join(str(p) for p in self.parts)


@dataclass
class Scope:
    """What substitutions see: the launch configurations and the current launch file."""

    configs: dict[str, str]
    file: Path
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)


class _Reader:
    def __init__(self, text: str) -> None:
        self.text, self.i = text, 0

    def template(self, stop: str) -> Template:
        parts: list[str | Substitution] = []
        buf: list[str] = []
        text = self.text
        while self.i < len(text):
            c = text[self.i]
            if c == "\\" and self.i + 1 < len(text):
                buf.append(text[self.i + 1])
                self.i += 2
            elif text.startswith("$(", self.i):
                if buf:
                    parts.append("".join(buf))
                    buf = []
                parts.append(self.substitution())
            elif c in stop:
                break
            else:
                buf.append(c)
                self.i += 1
        if buf:
            parts.append("".join(buf))
        return Template(tuple(parts))

    def substitution(self) -> Substitution:
        self.i += 2
        match = _IDENTIFIER.match(self.text, self.i)
        if match is None:
            raise SubstitutionError(f"expected a substitution name after '$(' in {self.text!r}")
        name, self.i = match.group(), match.end()
        args: list[Template] = []
        while True:
            if self.i >= len(self.text):
                raise SubstitutionError(f"unterminated '$({name}' in {self.text!r}")
            c = self.text[self.i]
            if c == ")":
                self.i += 1
                break
            if c != " ":
                raise SubstitutionError(f"unexpected {c!r} in '$({name} ...)' in {self.text!r}")
            while self.text.startswith(" ", self.i):
                self.i += 1
            args.append(self.argument())
        _check(name, len(args))
        return Substitution(name, tuple(args))

    def argument(self) -> Template:
        quote = self.text[self.i] if self.i < len(self.text) else ""
        if quote not in ("'", '"'):
            return self.template(stop=" ()'\"")
        self.i += 1
        value = self.template(stop=quote)
        if not self.text.startswith(quote, self.i):
            raise SubstitutionError(f"unterminated quote {quote} in {self.text!r}")
        self.i += 1
        return value


def _check(name: str, n_args: int) -> None:
    if name == "eval":
        raise SubstitutionError("'$(eval ...)' is not supported by embodied-mm launch; "
                                "compute the value in an `arg` or `let` instead")
    if name not in ARITY:
        raise SubstitutionError(f"unknown substitution '$({name} ...)' "
                                f"(supported: {', '.join(sorted(ARITY))})")
    low, high = ARITY[name]
    if not low <= n_args <= high:
        want = str(low) if low == high else f"{low} to {high}"
        raise SubstitutionError(f"'$({name} ...)' takes {want} argument(s), got {n_args}")


def parse_template(text: str) -> Template:
    """Parse `text` into a `Template`; raises `SubstitutionError` on bad `$(...)` syntax."""
    return _Reader(text).template(stop="")


def evaluate(template: Template, scope: Scope, env: Mapping[str, str] | None = None) -> str:
    """Evaluate all substitutions of `template` in `scope` (`env` overrides `scope.env`)."""
    env = scope.env if env is None else env
    out: list[str] = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
            continue
        args = [evaluate(a, scope, env) for a in part.args]
        out.append(_apply(part.name, args, scope, env))
    return "".join(out)


def _apply(name: str, args: list[str], scope: Scope, env: Mapping[str, str]) -> str:
    if name == "var":
        if args[0] not in scope.configs:
            raise SubstitutionError(f"launch configuration '{args[0]}' is not set "
                                    "(declare it with `arg` or `let`)")
        return scope.configs[args[0]]
    if name in ("env", "optenv"):
        if args[0] in env:
            return env[args[0]]
        if len(args) == 2 or name == "optenv":
            return args[1] if len(args) == 2 else ""
        raise SubstitutionError(f"environment variable '{args[0]}' is not set "
                                f"(give a default: '$(env {args[0]} DEFAULT)')")
    if name == "dirname":
        return str(scope.file.parent)
    return str(find_package_share(args[0], env))
