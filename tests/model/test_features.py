"""Observation → feature arrays, and padding a batch of scenes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from embodied_mm.eval.rollout import EpisodeRunner, EpisodeSpec
from embodied_mm.model.features import (
    CENTROID_DIM,
    HELD_COLOR_WORDS,
    OBJECT_DIM,
    ORDER_WORDS,
    PAIRING_WORDS,
    ROBOT_DIM,
    SUPPORT_WORDS,
    collate,
    extract,
    held_color_weights,
    object_row,
    order_weights,
    pairing_weights,
    support_weights,
)
from embodied_mm.planner.oracle import OraclePlanner
from embodied_mm.scene import is_on, on_table
from embodied_mm.types import Observation
from embodied_mm.vocabulary import COLORS, KINDS


def test_extract_shapes_and_ranges(make_obs):
    obs = make_obs(3)
    scene = extract(obs, image_size=64)
    assert scene.objects.shape == (3, OBJECT_DIM)
    assert scene.masks.shape == (3, 64, 64) and scene.centroids.shape == (3, CENTROID_DIM)
    assert scene.image.shape == (3, 64, 64) and scene.image.dtype == np.float32
    assert 0 <= scene.image.min() and scene.image.max() <= 1
    assert scene.robot.shape == (ROBOT_DIM,)
    assert (scene.masks.sum(axis=(1, 2)) > 0).all()  # every object is visible
    assert np.abs(scene.objects).max() < 3 and np.abs(scene.centroids).max() <= 1


def test_object_row_encodes_colour_and_kind(make_obs):
    obj = make_obs(1).objects[0]
    row = object_row(obj)
    np.testing.assert_allclose(row[6:9], COLORS[obj.color])
    assert row[9:].tolist() == [float(obj.kind == k) for k in KINDS]
    unknown = object_row(dataclasses.replace(obj, color="mauve", kind="cup"))
    assert unknown[6:].tolist() == [0.0] * (OBJECT_DIM - 6)


def test_mask_centroid_follows_the_mask(make_obs):
    obs = make_obs(1)
    obs.segmentation[:] = -1
    obs.segmentation[:40, :40] = obs.objects[0].mask_id  # top-left corner
    cx, cy, area = extract(obs).centroids[0]
    assert cx < -0.7 and cy < -0.6 and area == pytest.approx(1600 / (240 * 320), rel=0.05)


def test_no_mask_gives_zeros_and_does_not_mutate(make_obs):
    obs = make_obs(2)
    before = obs.objects[0].position.copy()
    obs.segmentation = None
    scene = extract(obs)
    assert scene.masks.sum() == 0 and scene.centroids.sum() == 0
    np.testing.assert_array_equal(obs.objects[0].position, before)


def test_images_needed_but_missing(make_obs):
    obs = make_obs(2)
    obs.rgb = None
    with pytest.raises(ValueError, match="rgb"):
        extract(obs)
    assert extract(obs, images=False).image is None


def test_collate_pads_variable_object_counts(make_obs):
    scenes = [extract(make_obs(n, seed=n), image_size=32) for n in (1, 4, 0)]
    batch = collate(scenes)
    assert batch["objects"].shape == (3, 4, OBJECT_DIM)
    assert batch["masks"].shape == (3, 4, 32, 32) and batch["image"].shape == (3, 3, 32, 32)
    assert batch["n_objects"].tolist() == [1, 4, 0]
    assert batch["object_mask"].sum(dim=1).tolist() == [1, 4, 0]
    assert torch.equal(batch["objects"][0, 0], torch.from_numpy(scenes[0].objects[0]))
    assert batch["objects"][0, 1:].abs().sum() == 0
    no_image = collate([extract(make_obs(1), images=False, image_size=32)])
    assert "image" not in no_image


class _WatchingOracle(OraclePlanner):
    """The oracle, keeping every observation it plans from."""

    def __init__(self) -> None:
        self.seen: list[Observation] = []
        self.steps: list[str] = []

    def next_step(self, obs, done) -> str:
        self.seen.append(obs)
        self.steps.append(super().next_step(obs, done))
        return self.steps[-1]


def test_support_words_say_what_each_object_rests_on_in_real_sim_episodes():
    oracle = _WatchingOracle()
    runner = EpisodeRunner(oracle)
    try:
        for task in ("sort_by_color", "tower"):
            assert runner.run(EpisodeSpec(task, seed=0)).success
    finally:
        runner.close()
    expected, computed = [], []
    for obs in oracle.seen:
        for obj in obs.objects:
            below = [o.kind for o in obs.objects if o is not obj and is_on(obj, o)]
            expected.append(below[0] if below else "table" if on_table(obj) else "air")
        batch = collate([extract(obs, images=False)])
        weights = support_weights(batch["objects"], batch["object_mask"])[0]
        assert torch.equal(weights.sum(-1), torch.ones(len(obs.objects)))
        computed += [SUPPORT_WORDS[i] for i in weights.argmax(-1).tolist()]
    assert computed == expected
    assert {"table", "bowl", "block"} <= set(computed)  # both tasks put blocks on things
    empty = collate([extract(Observation(np.zeros(7), 0.08, np.zeros(7), []), images=False)])
    assert support_weights(empty["objects"], empty["object_mask"]).shape == (1, 0, 4)


def test_held_color_words_mark_the_bowl_the_oracle_puts_the_held_block_in():
    oracle = _WatchingOracle()
    runner = EpisodeRunner(oracle)
    try:
        for seed in range(3):
            assert runner.run(EpisodeSpec("sort_by_color", seed=seed)).success
    finally:
        runner.close()
    places = 0
    for obs, step in zip(oracle.seen, oracle.steps):
        batch = collate([extract(obs, images=False)])
        weights = held_color_weights(batch["objects"], batch["object_mask"], batch["robot"])[0]
        assert torch.equal(weights.sum(-1), torch.ones(len(obs.objects)))
        same = [o.name for o, i in zip(obs.objects, weights.argmax(-1).tolist())
                if HELD_COLOR_WORDS[i] == "same"]
        if step.startswith("place("):  # holding a block: only the bowl of its colour is `same`
            assert same == [step[len("place("):-1]]
            places += 1
        elif step.startswith("pick("):  # the gripper is empty
            assert same == []
    assert places >= 6  # three episodes of two or three pairs


def test_pairing_words_say_a_sort_is_done_exactly_when_no_object_is_away():
    """`sort_by_color` with distractors, as the oracle plays it: it says `done()` exactly when no
    object is ` away` from the object of the other kind and its colour."""
    oracle = _WatchingOracle()
    runner = EpisodeRunner(oracle)
    try:
        for seed in range(2):
            assert runner.run(EpisodeSpec("sort_by_color", seed=seed, n_distractors=2)).success
    finally:
        runner.close()
    seen = set()
    for obs, step in zip(oracle.seen, oracle.steps):
        batch = collate([extract(obs, images=False)])
        weights = pairing_weights(batch["objects"], batch["object_mask"])[0]
        assert torch.equal(weights.sum(-1), torch.ones(len(obs.objects)))
        words = [PAIRING_WORDS[i] for i in weights.argmax(-1).tolist()]
        assert ("away" in words) == (step != "done()"), (step, words)
        seen |= set(words)
    assert seen == {"home", "away", "alone"}  # sorted pairs, pairs to sort, distractors


@pytest.mark.parametrize("seed", range(6))
def test_order_words_answer_every_relation_question_the_sampler_asks(make_obs, seed):
    """Comparing two objects' ordinals gives the ground-truth answer of every left/right/
    front/behind question `gen-data` may ask about the scene."""
    from embodied_mm.data.vqa import answer, candidate_questions

    obs = make_obs(9, seed=seed)
    batch = collate([extract(obs, images=False)])
    place = {axis: order_weights(batch["objects"], batch["object_mask"], axis)[0].argmax(-1)
             for axis in ("across", "depth")}
    index = {o.name: i for i, o in enumerate(obs.objects)}
    before = {"left_of": ("across", True), "right_of": ("across", False),
              "behind": ("depth", False), "in_front_of": ("depth", True)}
    asked = 0
    for kind, (axis, earlier) in before.items():
        for question in candidate_questions(obs)[kind]:
            a, b = (int(place[axis][index[n]]) for n in question.args)
            assert a != b
            assert answer(question, obs) == ("yes" if (a < b) == earlier else "no"), question
            asked += 1
    assert asked > 0


def test_order_words_share_a_place_on_ties_and_stop_at_the_last_word():
    objects = torch.zeros(1, 13, OBJECT_DIM)
    objects[0, :, 1] = torch.linspace(1, -1, 13)  # left to right
    objects[0, 1, 1] = objects[0, 0, 1]  # a tie for first
    mask = torch.ones(1, 13, dtype=torch.bool)
    mask[0, 12] = False  # padding
    weights = order_weights(objects, mask, "across")[0]
    assert weights.argmax(-1)[:4].tolist() == [0, 0, 2, 3]
    assert weights.argmax(-1)[9:12].tolist() == [len(ORDER_WORDS) - 1] * 3
    assert weights[12].sum() == 0 and weights[:12].sum(-1).eq(1).all()
    with pytest.raises(ValueError, match="axis"):
        order_weights(objects, mask, "up")
