"""The plan language: one grammar table that the parser, formatter, oracle and executor all read.

A plan step is `name(arg, …)`; argument kinds are object referrals (`obj_k`), table zones and
push directions. Text that does not parse, or that names an object absent from the scene,
raises `PlanError` and never reaches a robot.

Example:
    >>> from embodied_mm.plan_language import parse_step
    >>> parse_step("push(obj_3, left)", object_names=["obj_1", "obj_2", "obj_3"])
    SkillCall(name='push', args=('obj_3', 'left'))
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from embodied_mm.types import SkillCall

OBJECT = "object"
ZONE = "zone"
DIRECTION = "direction"

ZONES: tuple[str, ...] = (
    "left", "right", "front", "back", "center",
    "front_left", "front_right", "back_left", "back_right",
)
DIRECTIONS: tuple[str, ...] = ("left", "right", "forward", "backward")

# The grammar: step name -> the kind of each argument, in order.
GRAMMAR: dict[str, tuple[str, ...]] = {
    "pick": (OBJECT,),
    "place": (OBJECT,),
    "place_at": (ZONE,),
    "push": (OBJECT, DIRECTION),
    "done": (),
    "cannot": (),
}
REFUSAL = "cannot()"  # the step that declines a request (impossible, or names what is absent)

_OBJECT_NAME = re.compile(r"obj_[1-9][0-9]*")
_STEP = re.compile(r"\s*([a-z_]+)\s*\((.*)\)\s*")


class PlanError(ValueError):
    """Plan text that does not parse or does not fit the scene."""


def object_name(index: int) -> str:
    """The referral for the `index`-th object introduced by the prompt (1-based)."""
    if index < 1:
        raise ValueError(f"object indices start at 1, got {index}")
    return f"obj_{index}"


def allowed_values(kind: str, object_names: Sequence[str]) -> tuple[str, ...]:
    """All values an argument of `kind` may take in a scene with `object_names`."""
    if kind == OBJECT:
        return tuple(object_names)
    if kind == ZONE:
        return ZONES
    if kind == DIRECTION:
        return DIRECTIONS
    raise ValueError(f"unknown argument kind {kind!r}")


def parse_step(text: str, object_names: Sequence[str] | None = None) -> SkillCall:
    """Parses one plan step and checks it against the grammar (and the scene, if given).

    Args:
        text: plan text such as `pick(obj_2)`.
        object_names: names of the objects in the scene; None skips the presence check.

    Returns:
        The parsed `SkillCall`.

    Raises:
        PlanError: naming what is wrong with the text.
    """
    match = _STEP.fullmatch(text)
    if match is None:
        raise PlanError(f"cannot parse plan step {text!r}: expected name(arg, ...)")
    name, arg_text = match.groups()
    if name not in GRAMMAR:
        raise PlanError(f"unknown step {name!r} in {text!r}; steps are {', '.join(GRAMMAR)}")
    args = tuple(a.strip() for a in arg_text.split(",")) if arg_text.strip() else ()
    call = SkillCall(name, args)
    validate_step(call, object_names)
    return call


def validate_step(call: SkillCall, object_names: Sequence[str] | None = None) -> None:
    """Raises PlanError unless `call` fits the grammar and names only objects in the scene."""
    kinds = GRAMMAR.get(call.name)
    if kinds is None:
        raise PlanError(f"unknown step {call.name!r}; steps are {', '.join(GRAMMAR)}")
    if len(call.args) != len(kinds):
        raise PlanError(f"{call} takes {len(kinds)} argument(s), got {len(call.args)}")
    for arg, kind in zip(call.args, kinds):
        if kind == OBJECT:
            if not _OBJECT_NAME.fullmatch(arg):
                raise PlanError(f"{call}: {arg!r} is not an object name (obj_1, obj_2, ...)")
            if object_names is not None and arg not in object_names:
                known = ", ".join(object_names) or "none"
                raise PlanError(f"{call}: no object {arg} in the scene (objects: {known})")
        elif arg not in allowed_values(kind, ()):
            choices = ", ".join(allowed_values(kind, ()))
            raise PlanError(f"{call}: {arg!r} is not a {kind}; expected one of {choices}")


def format_plan(steps: Sequence[SkillCall]) -> str:
    """The `Done:` part of the multimodal sentence: steps joined by `; `, or `nothing`."""
    return "; ".join(str(s) for s in steps) if steps else "nothing"


def parse_plan(text: str, object_names: Sequence[str] | None = None) -> list[SkillCall]:
    """Inverse of `format_plan`."""
    if text.strip() == "nothing":
        return []
    return [parse_step(part, object_names) for part in text.split(";")]
