"""Instructions as a data component: a lexicon split into train and held-out parts, a
renderer that composes a task goal into many surface forms, and absent-reference changes.

`render(words, rng, side)` is the entry point; `make_absent` turns a goal into one that names
something the scene lacks. Pure Python: task families, data generation and training use it.
"""

from embodied_mm.language.absent import ABSENT_MODES, make_absent
from embodied_mm.language.lexicon import SIDES
from embodied_mm.language.render import render, surface_forms

__all__ = ["ABSENT_MODES", "SIDES", "make_absent", "render", "surface_forms"]
