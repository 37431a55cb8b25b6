"""The plan language: parse/format round trip, and every kind of bad text rejected by name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from embodied_mm.plan_language import (
    DIRECTIONS,
    GRAMMAR,
    OBJECT,
    ZONES,
    PlanError,
    allowed_values,
    format_plan,
    parse_plan,
    parse_step,
)
from embodied_mm.types import SkillCall

NAMES = [f"obj_{i}" for i in range(1, 13)]


@st.composite
def steps(draw) -> SkillCall:
    name = draw(st.sampled_from(sorted(GRAMMAR)))
    args = tuple(draw(st.sampled_from(allowed_values(kind, NAMES))) for kind in GRAMMAR[name])
    return SkillCall(name, args)


@given(steps())
def test_format_then_parse_is_identity(call):
    assert parse_step(str(call), NAMES) == call


@given(st.lists(steps(), max_size=6))
def test_plan_round_trip(calls):
    assert parse_plan(format_plan(calls), NAMES) == calls


def test_spacing_is_tolerated():
    assert parse_step("  push( obj_3 ,left ) ", NAMES) == SkillCall("push", ("obj_3", "left"))


@pytest.mark.parametrize("text, message", [
    ("", "cannot parse"),
    ("pick obj_1", "cannot parse"),
    ("jump(obj_1)", "unknown step 'jump'"),
    ("pick(obj_1, obj_2)", "takes 1 argument"),
    ("pick()", "takes 1 argument"),
    ("pick(red block)", "not an object name"),
    ("pick(obj_0)", "not an object name"),
    ("pick(obj_99)", "no object obj_99 in the scene"),
    ("place_at(moon)", "not a zone"),
    ("push(obj_1, up)", "not a direction"),
    ("done(now)", "takes 0 argument"),
])
def test_bad_text_is_rejected_with_a_reason(text, message):
    with pytest.raises(PlanError, match=message):
        parse_step(text, NAMES)


@given(st.text(max_size=40))
def test_arbitrary_text_parses_or_raises_plan_error(text):
    try:
        call = parse_step(text, NAMES)
    except PlanError:
        return
    assert call.name in GRAMMAR
    kinds = GRAMMAR[call.name]
    for arg, kind in zip(call.args, kinds):
        assert arg in (NAMES if kind == OBJECT else ZONES + DIRECTIONS)


def test_terminal_steps():
    assert SkillCall("done").is_terminal and SkillCall("cannot").is_terminal
    assert not SkillCall("pick", ("obj_1",)).is_terminal
    assert format_plan([]) == "nothing" and parse_plan("nothing") == []
