"""Absent references: a goal's words changed so that one thing it names is not in the scene.

The request then cannot be carried out, and the right plan is `cannot()` with nothing moved.
Three kinds of absence, for every frame of `embodied_mm.language.render`:

- `color`: a named object gets a colour no object of its kind has (preferring a colour the
  other kind has: "the red block" beside a red bowl is the hard case);
- `kind`: a named object becomes the other kind in a colour that kind lacks ("the red bowl"
  when only a red block exists);
- `noun`: a named object becomes a thing no scene has ("the red apple"), from the lexicon's
  unknown nouns of the side asked for.

Training data (`training.language.AbsentReferences`) and the absent-reference evaluation
(`task.absent=…`) both draw from here.

Example:
    python -c "import numpy as np; from embodied_mm.language.absent import make_absent; \
w = {'frame': 'place', 'mover': {'kind': 'block', 'color': 'red'}, \
'target': {'kind': 'bowl', 'color': 'blue'}}; \
scene = [('red', 'block'), ('blue', 'bowl')]; \
print(make_absent(w, scene, np.random.default_rng(0), 'train', 'color'))"
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from embodied_mm.language.lexicon import UNKNOWN_NOUNS
from embodied_mm.vocabulary import COLORS, KINDS

ABSENT_MODES: tuple[str, ...] = ("color", "kind", "noun")


def named_refs(words: dict[str, Any]) -> list[dict[str, Any]]:
    """The goal's refs that name an object by colour or noun (anchors included), in place."""
    found = []
    for key in ("mover", "target"):
        if key in words:
            found.append(words[key])
    found.extend(words.get("levels", []))
    found.extend(r["anchor"] for r in list(found) if r.get("anchor"))
    return found


def _mentioned(words: dict[str, Any]) -> set[str]:
    return {r["color"] for r in named_refs(words) if r.get("color")}


def make_absent(words: dict[str, Any], scene: Sequence[tuple[str, str]],
                rng: np.random.Generator, side: str, mode: str) -> dict[str, Any] | None:
    """A copy of `words` naming one thing that `scene` (colour, kind pairs) lacks, or None
    when this goal has nothing the mode can change.

    Raises:
        ValueError: an unknown mode.
    """
    if mode not in ABSENT_MODES:
        raise ValueError(f"absent mode must be one of {', '.join(ABSENT_MODES)}, got {mode!r}")
    words = copy.deepcopy(words)
    words.pop("others", None)  # a mention clause could name what the change made absent
    present = {tuple(pair) for pair in scene}
    if mode == "noun":
        noun = str(UNKNOWN_NOUNS.side(side)[int(rng.integers(len(UNKNOWN_NOUNS.side(side))))])
        refs = named_refs(words)
        if not refs:  # sort: the blocks or the bowls become things no scene has
            words.setdefault("nouns", {})[str(rng.choice(KINDS))] = noun
            return words
        ref = refs[int(rng.integers(len(refs)))]
        ref["noun"] = noun
        if rng.random() < 0.3:
            ref.pop("color", None)
        return words
    options = []
    for i, ref in enumerate(named_refs(words)):
        if "color" not in ref:
            continue
        kinds = [k for k in KINDS if k != ref["kind"]] if mode == "kind" else [ref["kind"]]
        for kind in kinds:
            colors = [c for c in COLORS if (c, kind) not in present
                      and (mode == "kind" or c not in _mentioned(words))]
            hard = [c for c in colors if any((c, k) in present for k in KINDS if k != kind)]
            if colors:
                options.append((i, kind, hard if hard and rng.random() < 0.5 else colors))
    if not options:
        return None
    i, kind, colors = options[int(rng.integers(len(options)))]
    ref = named_refs(words)[i]
    ref["kind"], ref["color"] = kind, colors[int(rng.integers(len(colors)))]
    return words
