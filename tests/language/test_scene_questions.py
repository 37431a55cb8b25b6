"""Scene questions asked afresh at training time about stored scenes, on a real `gen-data`
dataset: the rebuilt scene answers as the simulator's ground truth did."""

from __future__ import annotations

from collections import Counter

import pytest

from embodied_mm.config import load_config
from embodied_mm.data.generate import generate
from embodied_mm.data.vqa import GEOMETRIC_TYPES, answer, parse_question
from embodied_mm.training.data import item_records, load_splits
from embodied_mm.training.questions import SceneQuestions, scene_observation

RELATIONS = ("left_of", "right_of", "in_front_of", "behind")


@pytest.fixture(scope="module")
def train_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    generate(load_config(["data.episodes_per_task=3", "data.val_episodes_per_task=1",
                          "data.image_size=16", "data.vqa_per_step=4",
                          "data.tasks=[pick_place,stack,place_at_zone]",
                          f"data.out_dir={out}"]), progress=False)
    return load_splits(out)[0]


@pytest.mark.sim
def test_a_rebuilt_scene_answers_every_stored_question_as_the_simulator_did(train_set):
    checked = 0
    for i, record in enumerate(item_records(train_set)):
        sample = train_set[i]
        if record["kind"] != "vqa":
            continue
        question = parse_question(sample.instruction, sample.scene.object_names)
        if question.type in GEOMETRIC_TYPES:
            assert answer(question, scene_observation(sample.scene)) == sample.target, (
                sample.instruction)
            checked += 1
    assert checked >= 20


@pytest.mark.sim
def test_scene_questions_ask_the_chosen_types_with_balanced_answers(train_set):
    asked = SceneQuestions(train_set, per_sample=3.0, types=RELATIONS, seed=1)
    assert len(asked) == 3 * len(train_set)
    samples = [asked[i] for i in range(len(asked))]
    types = Counter(parse_question(s.instruction).type for s in samples)
    assert set(types) == set(RELATIONS) and min(types.values()) > len(samples) / 8
    answers = Counter(s.target for s in samples)
    assert set(answers) == {"yes", "no"} and min(answers.values()) > len(samples) / 3
    assert all(s.kind == "vqa" for s in samples)
    for s in samples[:50]:  # the answer is the truth about the scene the sample carries
        question = parse_question(s.instruction, s.scene.object_names)
        assert answer(question, scene_observation(s.scene)) == s.target
    again = SceneQuestions(train_set, per_sample=3.0, types=RELATIONS, seed=1)
    assert [again[i].instruction for i in range(20)] == [s.instruction for s in samples[:20]]


def test_types_that_state_rows_cannot_answer_are_refused():
    with pytest.raises(ValueError, match="question types must be some of"):
        SceneQuestions([object()], 1.0, ["in"])
    with pytest.raises(ValueError, match="per_sample must be > 0"):
        SceneQuestions([object()], 0.0, ["left_of"])
