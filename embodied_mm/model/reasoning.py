"""Spoken reasoning before a relation answer: the model says both objects' places, then yes/no.

"Is obj_1 left of obj_3?" needs two look-ups and a comparison. A word-anchored object token
makes a look-up easy (the model copies a word it reads, as it does for colours), but a
comparison of two tokens read from far apart in the prompt did not train in hundreds of
samples (docs/history.md). So with `PalmEConfig.relation_reasoning` the model is trained to
answer a relation question as `{place of A}, {place of B}: {yes|no}` (`second, first: no`),
the places being the ordinal words of the objects' order tokens (`features.order_weights`:
from the left for left/right, from the robot for front/behind). Each place is a look-up of
one token, and the comparison is then between two words next to each other in the text.
`AnswerDecoder` decodes the places and then the answer, and reports the answer.

Example:
    >>> reasoned_answer("second", "first", "no")
    'second, first: no'
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from embodied_mm.data.vqa import parse_question
from embodied_mm.model.features import ORDER_WORDS, order_weights

# Relation question type → the order it compares (`features.order_weights` axis).
RELATION_AXES = {"left_of": "across", "right_of": "across", "in_front_of": "depth",
                 "behind": "depth"}


def reasoned_answer(first: str, second: str, answer: str) -> str:
    """The text a reasoning model writes for a relation question."""
    return f"{first}, {second}: {answer}"


def relation_axis(question: str) -> str | None:
    """The order axis a question compares, or None when it is not a relation question (or
    does not parse)."""
    try:
        return RELATION_AXES.get(parse_question(question).type)
    except ValueError:
        return None


def reasoned_targets(batch: dict) -> list[str | None]:
    """Per sample of a collated batch, its target with the places spoken first when it is a
    relation question (`kind` `vqa`), else its target unchanged."""
    targets = list(batch["target"])
    places: dict[str, torch.Tensor] = {}
    for i, (kind, question) in enumerate(zip(batch["kind"], batch["instruction"])):
        axis = relation_axis(question) if kind == "vqa" and targets[i] is not None else None
        if axis is None:
            continue
        if axis not in places:
            places[axis] = order_weights(batch["objects"], batch["object_mask"],
                                         axis).argmax(-1)
        names = list(batch["object_names"][i])
        a, b = parse_question(question, names).args
        first, second = (ORDER_WORDS[int(places[axis][i, names.index(n)])] for n in (a, b))
        targets[i] = reasoned_answer(first, second, targets[i])
    return targets


def place_candidates(n_objects: int) -> Sequence[str]:
    """The ordinal words a place can be in a scene of `n_objects` objects."""
    return ORDER_WORDS[:max(1, min(n_objects, len(ORDER_WORDS)))]
