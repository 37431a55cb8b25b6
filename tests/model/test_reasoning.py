"""Relation questions answered with both objects' places first (`model/reasoning.py`)."""

from __future__ import annotations

import pytest
import torch

from embodied_mm.data.ask import AnswerDecoder, answer_question
from embodied_mm.data.vqa import QUESTIONS, answer, candidate_questions
from embodied_mm.model.features import ORDER_WORDS, extract
from embodied_mm.model.palme import IGNORE, Sample, collate_samples
from embodied_mm.model.reasoning import reasoned_answer, reasoned_targets

ORDINAL = {word: i for i, word in enumerate(ORDER_WORDS)}


@pytest.fixture(scope="module")
def reasoning_model(make_model):
    return make_model(inputs=("state", "robot"), order_words=True, relation_reasoning=True)


def test_relation_reasoning_needs_the_order_words(make_model):
    with pytest.raises(ValueError, match="order_words"):
        make_model(inputs=("state", "robot"), relation_reasoning=True)


@pytest.mark.parametrize("seed", range(4))
def test_reasoned_targets_speak_places_that_imply_the_answer(make_obs, seed):
    """Each relation question's target names both places, and comparing them gives the
    ground-truth answer; other questions and plan steps keep their targets."""
    obs = make_obs(7, seed=seed)
    scene = extract(obs, images=False)
    samples, truths = [], []
    for kind in ("left_of", "right_of", "in_front_of", "behind"):
        for question in candidate_questions(obs)[kind][:3]:
            samples.append(Sample(scene, str(question), target=answer(question, obs), kind="vqa"))
            truths.append(question)
    others = [Sample(scene, "what color is obj_1?", target=obs.objects[0].color, kind="vqa"),
              Sample(scene, "stack the blocks", target="pick(obj_1)")]
    targets = reasoned_targets(collate_samples(samples + others))
    assert targets[-2:] == [obs.objects[0].color, "pick(obj_1)"]
    for question, sample, target in zip(truths, samples, targets):
        places, reply = target.split(": ")
        first, second = (ORDINAL[p] for p in places.split(", "))
        assert reply == sample.target and first != second
        earlier = question.type in ("left_of", "in_front_of")  # A comes first in its order
        assert (reply == "yes") == ((first < second) == earlier), target
    assert truths


def test_training_scores_the_reasoned_target(reasoning_model, make_obs):
    obs = make_obs(4, seed=1)
    question = candidate_questions(obs)["left_of"][0]
    batch = collate_samples([Sample(extract(obs, images=False), str(question),
                                    target=answer(question, obs), kind="vqa")])
    labels = reasoning_model.embed_batch(batch, with_targets=True)[2][0]
    scored = labels[labels != IGNORE].tolist()
    assert scored == reasoning_model.target_ids(reasoned_targets(batch)[0])
    assert torch.isfinite(reasoning_model(batch))


def test_prefixes_tokenise_as_the_start_of_the_whole_answer(reasoning_model):
    """Decoding scores the places as prefixes: their tokens must begin the trained text's."""
    encode = reasoning_model.tokenizer.encode
    for first in ORDER_WORDS:
        for second in ORDER_WORDS[::3]:
            whole = reasoning_model.target_ids(reasoned_answer(first, second, "yes"))
            for prefix in (f" {first},", f" {first}, {second}:"):
                ids = encode(prefix, add_special_tokens=False)
                assert whole[:len(ids)] == ids


def test_reasoned_decoding_takes_the_best_place_then_the_best_answer(reasoning_model, make_obs):
    obs = make_obs(5, seed=2)
    question = candidate_questions(obs)["behind"][0]
    scene = extract(obs, images=False)
    embeds = reasoning_model.prompt_embeds(scene, str(question), [], kind="vqa")
    decoder = AnswerDecoder(reasoning_model)
    reply, text = decoder.decode_reasoned(embeds, scene.n_objects, QUESTIONS["behind"].answers)
    first, second = text.split(": ")[0].split(", ")
    assert text == reasoned_answer(first, second, reply)
    assert {first, second} <= set(ORDER_WORDS[:5])
    # given the places, the answer is the likelier of the two whole texts
    scores = decoder.log_likelihoods(embeds, [reasoned_answer(first, second, a)
                                              for a in ("yes", "no")])
    assert reply == ("yes", "no")[int(scores.argmax())]
    assert answer_question(question, obs, reasoning_model) == reply
