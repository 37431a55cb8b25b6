"""Renders a task goal into one of thousands of instructions, from parts on one side of a split.

A goal is a small JSON-able dict, `words`, that a task family's scene sampler returns: its
`frame` says what is asked and the other keys fill it.

| frame | keys | asks |
|---|---|---|
| `place` | `mover`, `target` (refs) | the mover in/on the target (pick_place, stack, …) |
| `sort` | – | every block into the bowl of its colour |
| `tower` | `levels` (refs, bottom first) | a tower in that order |
| `push` | `mover`, `side`, `direction` | push the mover towards a side of the table |
| `zone` | `mover`, `zone` | put the mover in a table zone |

A ref is `{"kind": "block"|"bowl", "color": c}` or, for `spatial_ref`, `{"kind": "block",
"relation": r, "anchor": ref|None}`; an optional `"noun"` overrides the kind's noun (absent
references: `embodied_mm.language.absent`). `words["others"]` lists the scene's other objects
as `[color, kind]`, for optional clauses that mention them. On the `train` side every part
comes from the lexicon's train side. On the `heldout` side the construction is always a held-
out one and each word slot (noun, colour spelling, preposition, wrapper, …) a held-out word
with probability `HELDOUT_PART_PROBABILITY`: no held-out sentence can occur in training, and
new words appear both alone and together. The sentence means what the family's success
predicate checks; only the wording varies.

Example:
    python -c "import numpy as np; from embodied_mm.language import render; \
w = {'frame': 'place', 'mover': {'kind': 'block', 'color': 'red'}, \
'target': {'kind': 'bowl', 'color': 'blue'}}; \
print([render(w, np.random.default_rng(i), 'heldout') for i in range(3)])"
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from embodied_mm.language.lexicon import (
    COLOR_NOUN,
    COLOR_WORDS,
    COLORED_NP,
    MENTIONS,
    NOUNS,
    PLURAL_EXCEPTIONS,
    PUSH_DIRECTION_WORDS,
    RELATIONS,
    SIDE_WORDS,
    SIDES,
    WRAPPERS,
    ZONE_WORDS,
    Split,
)

FRAMES = ("place", "sort", "tower", "push", "zone")
MENTION_PROBABILITY = 0.2

# Constructions. "do" ones are imperative clauses (wrapped in a request form, may take a
# mention clause); "say" ones are complete requests on their own (terse, declarative, goal
# first). Slots: {X} mover, {Y} target, {P} preposition, {S} side, {D} direction, {Z} zone,
# {b}/{w} block/bowl noun, {bs}/{ws} plurals, {C} colour noun, {L} listing bottom-up, {R}
# top-down, {x0} bottom level, {xN} top level, {rest} the levels above the bottom.
PLACE_DO = Split(
    ("put {X} {P} {Y}", "place {X} {P} {Y}", "move {X} {P} {Y}", "drop {X} {P} {Y}",
     "set {X} {P} {Y}", "pick up {X} and put it {P} {Y}", "grab {X} and place it {P} {Y}",
     "take {X} and drop it {P} {Y}", "get {X} {P} {Y}", "lift {X} and set it {P} {Y}",
     "bring {X} {P} {Y}", "put {X} down {P} {Y}", "pick {X} up and drop it {P} {Y}",
     "stick {X} {P} {Y}", "pop {X} {P} {Y}", "lay {X} {P} {Y}", "move {X} over {P} {Y}",
     "take {X} and put it {P} {Y}", "grab {X}, then put it {P} {Y}",
     "pick up {X} and place it {P} {Y}", "position {X} {P} {Y}", "shift {X} {P} {Y}",
     "slip {X} {P} {Y}", "toss {X} {P} {Y}", "tuck {X} {P} {Y}", "move {X} so it is {P} {Y}",
     "take {X} over {P} {Y}", "carefully place {X} {P} {Y}", "get {X} and set it {P} {Y}"),
    ("transfer {X} {P} {Y}", "deposit {X} {P} {Y}", "relocate {X} {P} {Y}",
     "carry {X} over and lower it {P} {Y}"))
PLACE_SAY = Split(
    ("{X} goes {P} {Y}", "{X} {P} {Y}", "{Y} needs {X} {P} it", "I want {X} {P} {Y}",
     "the goal is {X} {P} {Y}", "{X} should go {P} {Y}", "{P} {Y}: {X}",
     "I'd like {X} {P} {Y}", "{X} needs to be {P} {Y}", "let {X} end up {P} {Y}",
     "{X} {P} {Y}, please", "{X} has to go {P} {Y}", "{X} must be {P} {Y}",
     "{Y} is where {X} goes", "{X}: {P} {Y}", "what I want: {X} {P} {Y}"),
    ("{X} belongs {P} {Y}", "{Y} should end up with {X} {P} it",
     "make sure {X} ends up {P} {Y}"))
# Only when the target is a block: stacking verbs and the lower block named first.
STACK_DO = Split(
    ("stack {X} on {Y}", "stack {X} on top of {Y}", "take {Y} as the base and put {X} on it",
     "leave {Y} where it is and stack {X} on it", "stack {X} onto {Y}",
     "put {X} on top of {Y} to make a stack", "with {Y} underneath, put {X} on top",
     "place {X} so that it sits on {Y}", "keep {Y} on the table and stack {X} on it",
     "cover {Y} with {X}", "using {Y} as the bottom, stack {X} on it",
     "make {Y} the bottom block and {X} the top one", "let {Y} hold up {X}",
     "stack {X} so that {Y} is underneath it", "build a stack with {Y} lowest and {X} on it"),
    ("use {Y} as the base for {X}", "build a two-block stack of {Y} under {X}"))
STACK_SAY = Split(
    ("{Y} is the base, {X} goes on top", "{Y} at the bottom, {X} on top",
     "with {Y} at the bottom, stack {X} on it", "on {Y}, place {X}",
     "{Y} goes under {X}", "{Y} underneath and {X} on top of it", "{X} goes on top of {Y}",
     "on top of {Y}, put {X}", "{Y} stays down and {X} goes on it",
     "bottom: {Y}, top: {X}", "{Y} first, then {X} on it", "{Y} supports {X}",
     "{Y} underneath, {X} on it", "a stack: {Y} lower, {X} upper"),
    ("{Y} should be under {X}", "{Y} below, {X} above",
     "keeping {Y} in place, set {X} on it"))
# Only when the target is a bowl.
BOWL_DO = Split(("fill {Y} with {X}", "drop {X} inside of {Y}", "put {X} away in {Y}"),
                ("load {X} into {Y}",))
PREPOSITIONS = {"bowl": Split(("in", "into", "in", "into"), ("inside",)),
                "block": Split(("on", "onto", "on top of"), ("atop",))}

SORT_DO = Split(
    ("sort the {bs} into the {ws} of the same {C}", "put each {b} in the {w} that matches its {C}",
     "put every {b} into the {w} of its {C}", "match the {bs} to the {ws} by {C}",
     "place each {b} in the {w} with the same {C}", "group the {bs} with the {ws} of their {C}",
     "put the {bs} in the {ws} that have their {C}", "sort the {bs} into the {ws} by {C}",
     "sort the {bs} by {C} into the {ws}", "put each {b} into the {w} of the same {C}",
     "place the {bs} into the {ws} with matching {C}s", "sort the {bs} by {C}",
     "put all the {bs} into the {ws} that match their {C}s",
     "tidy up: each {b} into the {w} of its {C}", "sort every {b} into its matching {w}",
     "put the {bs} away in the {ws} by {C}", "match every {b} with the {w} of its {C}",
     "place all {bs} into the {ws} of matching {C}"),
    ("pair up each {b} with the {w} of matching {C}",
     "drop every {b} into the {w} whose {C} it shares",
     "organize the {bs} into the {ws} by {C}"))
SORT_SAY = Split(("each {b} goes in the {w} of its {C}", "{bs} into {ws} of matching {C}",
                  "{bs} sorted into {ws} by {C}", "every {b} in the same-{C} {w}"),
                 ("every {b} belongs in the {w} of the same {C}",))

TOWER_DO = Split(
    ("build a tower of {L}, bottom to top", "stack {L} into a tower in that order from the bottom",
     "make a tower with {x0} at the bottom, then {rest}", "stack {L} with {x0} at the bottom and "
     "{xN} on top", "put the {bs} in a tower: {L}, starting from the bottom",
     "build a tower from top to bottom: {R}", "stack {R}, top to bottom",
     "make a tower with {xN} on top and {x0} at the bottom: {L} from the bottom up",
     "{seq}", "make a stack of {L}, from the bottom up", "build a tower with {R} from top to "
     "bottom", "start with {x0}, then stack {rest} on top", "stack {L} with {x0} as the base",
     "build a tower: {L}, going up", "first {x0}, then {rest}, stacked into a tower",
     "pile {L} into a tower, {x0} first", "make a tower, top to bottom: {R}",
     "build a tower starting with {x0}, then {rest}", "stack {L}, starting from the bottom",
     "make a tower of {L} with {x0} on the table", "put {x0} down first, then stack {rest}",
     "build a tower of {R}, top first", "stack {R}, the top one first"),
    ("stack {R} from the top down", "build a tower: {x0} first, then {rest_on}",
     "make a tower whose base is {x0}, followed by {rest} going up"))
TOWER_SAY = Split(("a tower of {L}, bottom to top", "tower: {L}, from the bottom",
                   "tower from top to bottom: {R}", "{x0} at the bottom, then {rest} on top",
                   "bottom to top: {L}", "{L}, bottom first", "top first: {R}",
                   "a tower with {x0} lowest: {L}"),
                  ("the tower should be, from the base up: {L}",))

PUSH_DO = Split(
    ("push {X} to the {S} of the table", "slide {X} over to the {S}",
     "nudge {X} towards the {S} of the table", "push {X} {D} until it is on the {S}",
     "move {X} to the {S} by pushing it", "shove {X} toward the {S}", "push {X} {D}",
     "push {X} over to the {S}", "slide {X} {D}", "bump {X} {D}", "push {X} toward the {S}",
     "slide {X} to the {S} of the table", "nudge {X} {D}",
     "push {X} along to the {S}", "slide {X} across to the {S}", "nudge {X} over to the {S}",
     "shove {X} over to the {S} of the table", "push {X} so it ends up on the {S}"),
    ("give {X} a push toward the {S}", "scoot {X} over to the {S}",
     "get {X} to the {S} of the table with a push"))
PUSH_SAY = Split(("{X} pushed to the {S}", "{X} slid to the {S}",
                  "{X} needs a push to the {S}", "{X}: push it {D}"),
                 ("{X} should be pushed over to the {S}",))

ZONE_DO = Split(
    ("move {X} to the {Z} of the table", "put {X} in the {Z} of the table", "place {X} at the {Z}",
     "pick up {X} and set it down at the {Z}", "take {X} to the {Z}",
     "put {X} down at the {Z} of the table", "leave {X} at the {Z}",
     "bring {X} to the {Z}", "set {X} down in the {Z}", "move {X} over to the {Z}",
     "place {X} in the {Z} of the table", "put {X} at the {Z}", "move {X} into the {Z}",
     "set {X} at the {Z} of the table", "get {X} over to the {Z}", "put {X} over at the {Z}"),
    ("carry {X} over to the {Z}", "park {X} at the {Z} of the table", "drop {X} off at the {Z}"))
ZONE_SAY = Split(("{X} goes to the {Z}", "{X} to the {Z}", "{X} should be at the {Z}",
                  "{X} has to be at the {Z}", "the {Z} is where {X} goes"),
                 ("{X} belongs at the {Z}",))

SAY_PROBABILITY = 0.25  # share of complete (non-imperative) requests


HELDOUT_PART_PROBABILITY = 0.5  # on the held-out side, a word slot's chance of a held-out word
CANONICAL_PROBABILITY = 0.3  # a noun's or colour's chance of its canonical word


def _choose(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _part(rng: np.random.Generator, split: Split, side: str) -> str:
    """A word-level part. On the held-out side it is held out with probability
    `HELDOUT_PART_PROBABILITY` (else a train one): held-out sentences are built on a held-out
    construction and mix new and known words, as people's rewordings do."""
    if side == "heldout" and rng.random() < HELDOUT_PART_PROBABILITY:
        return _choose(rng, split.heldout)
    return _choose(rng, split.train)


def _word(rng: np.random.Generator, split: Split, side: str) -> str:
    """A noun or colour spelling. On the train side the canonical one (the split's first train
    word) with probability `CANONICAL_PROBABILITY`, else any train part: people mostly say "the
    red block", and the synonyms teach that other words mean the same thing. The held-out side
    draws as `_part` does, so its share of new words is not diluted."""
    if side == "train" and rng.random() < CANONICAL_PROBABILITY:
        return split.train[0]
    return _part(rng, split, side)


def plural(noun: str) -> str:
    """`noun`'s plural by English's regular endings (`boxes`, `batteries`) and the lexicon's
    exceptions (`knives`); in a phrase the last word takes it (`toy cars`)."""
    head, _, last = noun.rpartition(" ")
    if last in PLURAL_EXCEPTIONS:
        word = PLURAL_EXCEPTIONS[last]
    elif last.endswith(("s", "sh", "ch", "x", "z")):
        word = last + "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        word = last[:-1] + "ies"
    else:
        word = last + "s"
    return f"{head} {word}" if head else word


def noun_of(ref: dict[str, Any], rng: np.random.Generator, side: str) -> str:
    """The noun a ref is called by: its override, else one of its kind's nouns."""
    return ref.get("noun") or _word(rng, NOUNS[ref["kind"]], side)


def color_word(color: str, rng: np.random.Generator, side: str) -> str:
    """A spelling of palette colour `color` from `side` (an unknown colour is used as is)."""
    split = COLOR_WORDS.get(color)
    return _word(rng, split, side) if split else color


def noun_phrase(ref: dict[str, Any], rng: np.random.Generator, side: str) -> str:
    """`the red cube`, `the bowl that is blue`, `the leftmost block`, `the block next to the
    green dish`."""
    noun = noun_of(ref, rng, side)
    if "relation" in ref:
        anchor = ref.get("anchor")
        a = noun_phrase(anchor, rng, side) if anchor else ""
        return "the " + _part(rng, RELATIONS[ref["relation"]], side).format(n=noun, a=a)
    if ref.get("color") is None:
        return f"the {noun}"
    c = color_word(ref["color"], rng, side)
    return "the " + _part(rng, COLORED_NP, side).format(c=c, n=noun)


def _level(ref: dict[str, Any], rng: np.random.Generator, side: str) -> str:
    """A tower level: a block's colour alone, or a full noun phrase (always for anything but
    a block, so an absent-kind change shows)."""
    if rng.random() < 0.5 and ref["kind"] == "block" and "noun" not in ref:
        return color_word(ref["color"], rng, side)
    return noun_phrase(ref, rng, side)


def _listing(items: Sequence[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1]


def _slots(words: dict[str, Any], rng: np.random.Generator, side: str) -> dict[str, str]:
    frame = words["frame"]
    slots: dict[str, str] = {}
    nouns = words.get("nouns", {})
    b = nouns.get("block") or _word(rng, NOUNS["block"], side)
    w = nouns.get("bowl") or _word(rng, NOUNS["bowl"], side)
    slots.update(b=b, w=w, bs=plural(b), ws=plural(w), C=_part(rng, COLOR_NOUN, side))
    if "mover" in words:
        slots["X"] = noun_phrase(words["mover"], rng, side)
    if frame == "place":
        target = words["target"]
        slots["Y"] = noun_phrase(target, rng, side)
        slots["P"] = _part(rng, PREPOSITIONS[target["kind"]], side)
    elif frame == "tower":
        levels = [_level(ref, rng, side) for ref in words["levels"]]
        slots.update(L=_listing(levels), R=_listing(levels[::-1]), x0=levels[0],
                     xN=levels[-1], rest=", then ".join(levels[1:]),
                     rest_on=", then ".join(f"{x} on that" if i else f"{x} on it"
                                            for i, x in enumerate(levels[1:])),
                     seq=", then ".join(f"put {upper} on {lower}" for lower, upper in
                                        zip(levels, levels[1:])))
    elif frame == "push":
        slots["S"] = _part(rng, SIDE_WORDS[words["side"]], side)
        slots["D"] = _part(rng, PUSH_DIRECTION_WORDS[words["direction"]], side)
    elif frame == "zone":
        slots["Z"] = _part(rng, ZONE_WORDS[words["zone"]], side)
    return slots


def _constructions(words: dict[str, Any]) -> tuple[tuple[Split, ...], tuple[Split, ...]]:
    """(imperative, complete) construction sets of the goal's frame."""
    frame = words["frame"]
    if frame == "place":
        extra = {"block": ((STACK_DO,), (STACK_SAY,)), "bowl": ((BOWL_DO,), ())}
        do, say = extra[words["target"]["kind"]]
        return (PLACE_DO, *do), (PLACE_SAY, *say)
    return {"sort": ((SORT_DO,), (SORT_SAY,)), "tower": ((TOWER_DO,), (TOWER_SAY,)),
            "push": ((PUSH_DO,), (PUSH_SAY,)), "zone": ((ZONE_DO,), (ZONE_SAY,))}[frame]


def _pool(splits: Sequence[Split], side: str) -> list[str]:
    return [c for split in splits for c in split.side(side)]


def _mention(words: dict[str, Any], rng: np.random.Generator, side: str) -> str:
    others = words.get("others") or []
    if not others or rng.random() >= MENTION_PROBABILITY:
        return ""
    color, kind = others[int(rng.integers(len(others)))]
    other = noun_phrase({"kind": kind, "color": color}, rng, side)
    return _part(rng, MENTIONS, side).format(o=other)


def _finish(text: str, rng: np.random.Generator) -> str:
    text = " ".join(text.split())
    if rng.random() < 0.5:
        text = text[0].upper() + text[1:]
    if not text.endswith("?") and rng.random() < 0.3:
        text += _choose(rng, (".", ".", "!"))
    return text


def render(words: dict[str, Any], rng: np.random.Generator, side: str = "train") -> str:
    """One instruction for goal `words`, drawn with `rng` from the parts of `side`.

    Raises:
        ValueError: an unknown side or frame.
    """
    if side not in SIDES:
        raise ValueError(f"language side must be one of {', '.join(SIDES)}, got {side!r}")
    if words.get("frame") not in FRAMES:
        raise ValueError(f"unknown goal frame {words.get('frame')!r}; frames: "
                         f"{', '.join(FRAMES)}")
    do, say = _constructions(words)
    slots = _slots(words, rng, side)
    says = _pool(say, side)
    if says and rng.random() < SAY_PROBABILITY:
        return _finish(_choose(rng, says).format(**slots), rng)
    clause = _choose(rng, _pool(do, side)).format(**slots) + _mention(words, rng, side)
    return _finish(_part(rng, WRAPPERS, side).format(s=clause), rng)


def surface_forms(words: dict[str, Any], side: str, draws: int = 5000, seed: int = 0) -> set[str]:
    """The distinct instructions `draws` renderings of `words` give (a measure of variety)."""
    rng = np.random.default_rng(seed)
    return {render(words, rng, side) for _ in range(draws)}
