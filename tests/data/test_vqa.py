"""Scene questions: grammar, ground-truth answers on hand-built scenes, the training sampler."""

from __future__ import annotations

import numpy as np
import pytest

from embodied_mm.data.vqa import (
    QUESTIONS,
    RELATION_MARGIN,
    VOCABULARY,
    Question,
    QuestionError,
    answer,
    parse_question,
    sample_questions,
)
from embodied_mm.types import ObjectState, Observation

BOWL = np.array([0.146, 0.146, 0.035])
BLOCK = np.full(3, 0.04)


def _obj(name, kind, color, xyz):
    return ObjectState(name, kind, color, np.array(xyz, float), np.array([0, 0, 0, 1.0]),
                       BOWL if kind == "bowl" else BLOCK)


@pytest.fixture
def obs():
    """obj_1 red block in obj_2 blue bowl (left); obj_3 green block on obj_4 yellow block
    (front right); obj_5 orange block alone at the back."""
    return Observation(np.zeros(7), 0.08, np.zeros(7), [
        _obj("obj_1", "block", "red", (0.50, 0.20, 0.026)),
        _obj("obj_2", "bowl", "blue", (0.50, 0.20, 0.0175)),
        _obj("obj_3", "block", "green", (0.40, -0.20, 0.06)),
        _obj("obj_4", "block", "yellow", (0.40, -0.20, 0.02)),
        _obj("obj_5", "block", "orange", (0.65, 0.00, 0.02)),
    ])


@pytest.mark.parametrize("text, expected", [
    ("what is obj_1?", "a red block"),
    ("what is obj_5?", "an orange block"),
    ("what is obj_2?", "a blue bowl"),
    ("what color is obj_4?", "yellow"),
    ("which zone is obj_1 in?", "left"),
    ("which zone is obj_4 in?", "front_right"),
    ("which zone is obj_5 in?", "back"),
    ("is obj_1 in obj_2?", "yes"),
    ("is obj_3 in obj_2?", "no"),
    ("is obj_3 on obj_4?", "yes"),
    ("is obj_4 on obj_3?", "no"),
    ("is obj_5 on obj_4?", "no"),
    ("is obj_1 left of obj_4?", "yes"),
    ("is obj_4 left of obj_1?", "no"),
    ("is obj_4 right of obj_5?", "yes"),
    ("is obj_4 in front of obj_5?", "yes"),
    ("is obj_4 behind obj_5?", "no"),
    ("is obj_5 behind obj_1?", "yes"),
    ("can you put the red block in the blue bowl?", "yes"),
    ("can you put the green block on the orange block?", "yes"),
    ("can you put the purple block in the blue bowl?", "no"),  # no purple block
    ("can you put the red block in the pink bowl?", "no"),  # no pink bowl
    ("can you put the blue bowl on the red block?", "no"),  # bowls are fixtures
    ("can you pick up the yellow block?", "yes"),
    ("can you pick up the blue bowl?", "no"),
    ("can you pick up the white block?", "no"),
])
def test_ground_truth_answers(obs, text, expected):
    question = parse_question(text, obs.object_names)
    assert answer(question, obs) == expected
    assert expected in question.answers


def test_zone_outside_the_table_is_none(obs):
    obs.objects.append(_obj("obj_6", "block", "white", (0.9, 0.0, 0.02)))
    assert answer(parse_question("which zone is obj_6 in?"), obs) == "none"


@pytest.mark.parametrize("text, canonical", [
    ("Q: Is obj_1 to the left of obj_2? A:", "is obj_1 left of obj_2?"),
    ("what colour is obj_3", "what color is obj_3?"),
    ("is obj_2 on top of obj_4?", "is obj_2 on obj_4?"),
    ("Can you put the red block onto the blue block?", "can you put the red block on the "
                                                        "blue block?"),
    ("can you put the red block on the blue bowl?", "can you put the red block in the "
                                                     "blue bowl?"),
])
def test_questions_normalise_to_their_canonical_text(text, canonical):
    question = parse_question(text)
    assert str(question) == canonical
    assert parse_question(canonical) == question


@pytest.mark.parametrize("text, message", [
    ("where is the red block?", "cannot parse question"),
    ("can you put the magenta block in the blue bowl?", "cannot parse question"),
    ("is obj_1 in obj_9?", "no object obj_9 in the scene"),
    ("what is obj_0?", "cannot parse question"),
])
def test_bad_questions_raise_one_line_errors(obs, text, message):
    with pytest.raises(QuestionError, match=message) as err:
        parse_question(text, obs.object_names)
    assert "\n" not in str(err.value)


def test_vocabulary_is_closed_and_covers_every_type():
    assert set(VOCABULARY) == {a for q in QUESTIONS.values() for a in q.answers}
    assert {"yes", "no", "a red block", "an orange bowl", "back_left", "purple"} <= set(VOCABULARY)


def test_sampler_is_seeded_correct_and_balanced(obs):
    first = sample_questions(obs, np.random.default_rng(3), 4)
    assert first == sample_questions(obs, np.random.default_rng(3), 4)
    assert len({q for q, _ in first}) == 4
    replies = []
    for seed in range(300):
        for question, reply in sample_questions(obs, np.random.default_rng(seed), 2):
            assert isinstance(question, Question) and reply == answer(question, obs)
            assert parse_question(str(question), obs.object_names) == question
            if question.type in ("left_of", "right_of", "in_front_of", "behind"):
                a, b = (obs.object(n).position for n in question.args)
                axis = 1 if question.type in ("left_of", "right_of") else 0
                assert abs(a[axis] - b[axis]) > RELATION_MARGIN
            if reply in ("yes", "no"):
                replies.append(reply == "yes")
    assert 0.35 < np.mean(replies) < 0.65
