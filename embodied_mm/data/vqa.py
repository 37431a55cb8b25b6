"""Embodied VQA: the question grammar, its closed answer vocabulary, and ground-truth answers.

Questions are about one `Observation` (PaLM-E's embodied VQA): what an object is, which table
zone it is in, how two objects relate, and whether an instruction is feasible. They appear in
the multimodal sentence as `… Q: is obj_1 in obj_4? A:` followed by a short answer from a
closed vocabulary. One table (`QUESTIONS`) drives parsing, formatting, ground-truth answers,
the answer set a decoder is constrained to, and the training-mixture sampler; `embodied-mm
ask` and `embodied-mm gen-data` both read it. Answers come from `embodied_mm.scene` and
`embodied_mm.table`, so they agree with the task oracles and success checks.

Example:
    python -c "from embodied_mm.data.vqa import parse_question as p; \
print(p('Is obj_1 left of obj_2'), p('what is obj_3?').type)"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from embodied_mm.plan_language import ZONES
from embodied_mm.scene import is_on
from embodied_mm.table import TABLE
from embodied_mm.types import ObjectState, Observation
from embodied_mm.vocabulary import COLORS, KINDS

YES_NO: tuple[str, ...] = ("yes", "no")
NO_ZONE = "none"  # the object lies outside the zoned table area
RELATION_MARGIN = 0.03  # m: the sampler asks about left/right/front/behind only beyond this


class QuestionError(ValueError):
    """A question outside the grammar, or naming an object absent from the scene."""


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def describe(color: str, kind: str) -> str:
    """The answer to `what is obj_k?`: `a red block`, `an orange bowl`."""
    return f"{article(color)} {color} {kind}"


@dataclass(frozen=True)
class Question:
    """A parsed question: its type (a key of `QUESTIONS`) and its arguments.

    Arguments are object names (`obj_2`) or, for feasibility, descriptions (`red block`).
    `str(question)` is its canonical text, as the model is trained on it.
    """

    type: str
    args: tuple[str, ...]

    def __str__(self) -> str:
        spec = QUESTIONS[self.type]
        args = self.args
        if self.type == "can_put":  # the preposition follows the target: in a bowl, on a block
            args = (args[0], "in" if args[1].endswith("bowl") else "on", args[1])
        return spec.template.format(*args)

    @property
    def answers(self) -> tuple[str, ...]:
        """The closed answer set of this question's type (what decoding is constrained to)."""
        return QUESTIONS[self.type].answers

    @property
    def object_args(self) -> tuple[str, ...]:
        return self.args if QUESTIONS[self.type].by_name else ()


@dataclass(frozen=True)
class QuestionType:
    """One row of the grammar: canonical template, accepted pattern, answers, ground truth."""

    template: str
    pattern: str
    answers: tuple[str, ...]
    truth: Callable[[Observation, tuple[str, ...]], str]
    by_name: bool = True  # arguments are object names (else colour-kind descriptions)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _position(obs: Observation, name: str) -> np.ndarray:
    return np.asarray(obs.object(name).position)


def _find(obs: Observation, description: str) -> ObjectState | None:
    color, kind = description.split()
    return next((o for o in obs.objects if o.color == color and o.kind == kind), None)


def _can_put(obs: Observation, args: tuple[str, ...]) -> str:
    mover, target = _find(obs, args[0]), _find(obs, args[1])
    return _yes(mover is not None and target is not None and mover.kind == "block"
                and mover.name != target.name)


def _can_pick(obs: Observation, args: tuple[str, ...]) -> str:
    obj = _find(obs, args[0])
    return _yes(obj is not None and obj.kind == "block")  # bowls are fixtures


_OBJ = r"(obj_[1-9][0-9]*)"
_DESC = rf"((?:{'|'.join(COLORS)}) (?:{'|'.join(KINDS)}))"
_IDENTITIES = tuple(describe(c, k) for c in COLORS for k in KINDS)

# The grammar. Relations are in the robot's frame (docs/conventions.md): left = +y,
# in front of = nearer the robot (−x).
QUESTIONS: dict[str, QuestionType] = {
    "identity": QuestionType("what is {}?", rf"what is {_OBJ}", _IDENTITIES,
                             lambda o, a: describe(o.object(a[0]).color, o.object(a[0]).kind)),
    "color": QuestionType("what color is {}?", rf"what colou?r is {_OBJ}", tuple(COLORS),
                          lambda o, a: o.object(a[0]).color),
    "zone": QuestionType("which zone is {} in?", rf"which zone is {_OBJ} in",
                         (*ZONES, NO_ZONE),
                         lambda o, a: TABLE.zone_of(_position(o, a[0])[:2]) or NO_ZONE),
    "in": QuestionType("is {} in {}?", rf"is {_OBJ} in {_OBJ}", YES_NO,
                       lambda o, a: _yes(is_on(o.object(a[0]), o.object(a[1])))),
    "on": QuestionType("is {} on {}?", rf"is {_OBJ} on(?: top of)? {_OBJ}", YES_NO,
                       lambda o, a: _yes(is_on(o.object(a[0]), o.object(a[1])))),
    "left_of": QuestionType("is {} left of {}?", rf"is {_OBJ} (?:to the )?left of {_OBJ}",
                            YES_NO, lambda o, a: _yes(_position(o, a[0])[1] >
                                                      _position(o, a[1])[1])),
    "right_of": QuestionType("is {} right of {}?", rf"is {_OBJ} (?:to the )?right of {_OBJ}",
                             YES_NO, lambda o, a: _yes(_position(o, a[0])[1] <
                                                       _position(o, a[1])[1])),
    "in_front_of": QuestionType("is {} in front of {}?", rf"is {_OBJ} in front of {_OBJ}",
                                YES_NO, lambda o, a: _yes(_position(o, a[0])[0] <
                                                          _position(o, a[1])[0])),
    "behind": QuestionType("is {} behind {}?", rf"is {_OBJ} behind {_OBJ}", YES_NO,
                           lambda o, a: _yes(_position(o, a[0])[0] > _position(o, a[1])[0])),
    "can_put": QuestionType("can you put the {} {} the {}?",
                            rf"can you put the {_DESC} (?:in|into|on|onto|on top of) the {_DESC}",
                            YES_NO, _can_put, by_name=False),
    "can_pick": QuestionType("can you pick up the {}?", rf"can you pick up the {_DESC}",
                             YES_NO, _can_pick, by_name=False),
}
_PATTERNS = {name: re.compile(spec.pattern) for name, spec in QUESTIONS.items()}
#: the types whose truth reads only an object's name, place, colour and kind (what a stored
#: state row keeps; `in`/`on` also read its orientation, `can_*` name no object)
GEOMETRIC_TYPES: tuple[str, ...] = ("identity", "color", "zone", "left_of", "right_of",
                                    "in_front_of", "behind")

#: every answer any question can have
VOCABULARY: tuple[str, ...] = tuple(sorted({a for q in QUESTIONS.values() for a in q.answers}))


def parse_question(text: str, object_names: Sequence[str] | None = None) -> Question:
    """Parses a question (case, a `Q:`/`A:` wrapper and the `?` are optional).

    Args:
        text: e.g. `is obj_1 in obj_4?`.
        object_names: the scene's objects; None skips the presence check.

    Raises:
        QuestionError: the text is not in the grammar, or names an absent object.
    """
    norm = " ".join(text.lower().split())
    norm = re.sub(r"^q:\s*|\s*a:$", "", norm).rstrip("?. ").strip()
    for name, pattern in _PATTERNS.items():
        match = pattern.fullmatch(norm)
        if match:
            question = Question(name, match.groups())
            break
    else:
        forms = " | ".join(str(Question(n, _example_args(n))) for n in QUESTIONS)
        raise QuestionError(f"cannot parse question {text!r}; ask one of: {forms}")
    absent = [a for a in question.object_args
              if object_names is not None and a not in object_names]
    if absent:
        raise QuestionError(f"{question}: no object {absent[0]} in the scene "
                            f"(objects: {', '.join(object_names) or 'none'})")
    return question


def _example_args(name: str) -> tuple[str, ...]:
    if not QUESTIONS[name].by_name:
        return ("red block", "blue bowl")[:QUESTIONS[name].template.count("the {}")]
    return ("obj_1", "obj_2")[:QUESTIONS[name].template.count("{}")]


def answer(question: Question, obs: Observation) -> str:
    """The ground-truth answer from the observation's objects."""
    return QUESTIONS[question.type].truth(obs, question.args)


def candidate_questions(obs: Observation) -> dict[str, list[Question]]:
    """Every question the training mixture may ask about `obs`, by type.

    Relation questions are only asked about pairs that differ by `RELATION_MARGIN`, and zone
    questions only about objects inside the zoned area, so no label sits on a boundary.
    """
    objs, blocks = obs.objects, [o for o in obs.objects if o.kind == "block"]
    pairs = [(a, b) for a in objs for b in objs if a.name != b.name]
    axis = {"left_of": 1, "right_of": 1, "in_front_of": 0, "behind": 0}
    descs = [f"{c} {k}" for c in COLORS for k in KINDS]
    out = {
        "identity": [Question("identity", (o.name,)) for o in objs],
        "color": [Question("color", (o.name,)) for o in objs],
        "zone": [Question("zone", (o.name,)) for o in objs
                 if TABLE.zone_of(o.position[:2]) is not None],
        "in": [Question("in", (b.name, s.name)) for b in blocks for s in objs
               if s.kind == "bowl"],
        "on": [Question("on", (b.name, s.name)) for b in blocks for s in blocks if b is not s],
        **{t: [Question(t, (a.name, b.name)) for a, b in pairs
               if abs(a.position[i] - b.position[i]) > RELATION_MARGIN] for t, i in axis.items()},
        "can_put": [Question("can_put", (m, t)) for m in descs for t in descs if m != t],
        "can_pick": [Question("can_pick", (d,)) for d in descs],
    }
    return {name: qs for name, qs in out.items() if qs}


def sample_questions(obs: Observation, rng: np.random.Generator, n: int,
                     types: Sequence[str] | None = None) -> list[tuple[Question, str]]:
    """`n` distinct (question, answer) pairs: a type uniformly (of `types`; None: any), then
    an answer uniformly among those the type has in this scene (so yes/no are balanced), then
    a question. Fewer when the scene has fewer such questions."""
    by_type = candidate_questions(obs)
    if types is not None:
        by_type = {t: qs for t, qs in by_type.items() if t in types}
    chosen: list[tuple[Question, str]] = []
    for _ in range(n):
        types = sorted(t for t, qs in by_type.items() if qs)
        if not types:
            break
        questions = by_type[types[rng.integers(len(types))]]
        by_answer: dict[str, list[Question]] = {}
        for q in questions:
            by_answer.setdefault(answer(q, obs), []).append(q)
        reply = sorted(by_answer)[rng.integers(len(by_answer))]
        question = by_answer[reply][rng.integers(len(by_answer[reply]))]
        questions.remove(question)
        chosen.append((question, reply))
    return chosen
