"""Language in the training mixture: re-worded plan samples and absent-reference samples, made
from a real `gen-data` dataset."""

from __future__ import annotations

import pytest

from embodied_mm.config import load_config
from embodied_mm.data.generate import generate
from embodied_mm.language.absent import named_refs
from embodied_mm.training.data import item_records, load_splits, weight_tasks
from embodied_mm.training.language import (
    AbsentReferences,
    Reworded,
    absent_heldout,
    scene_objects,
    with_language,
)


@pytest.fixture(scope="module")
def train_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    generate(load_config(["data.episodes_per_task=2", "data.val_episodes_per_task=1",
                          "data.image_size=16", "data.tasks=[pick_place,stack,tower]",
                          f"data.out_dir={out}"]), progress=False)
    return load_splits(out)[0]


@pytest.mark.sim
def test_rewording_keeps_scene_and_target_and_changes_the_words(train_set):
    views = Reworded(train_set, copies=3)
    records = item_records(train_set)
    assert len(views) == 3 * len(train_set)
    n = len(train_set)
    for i, record in enumerate(records):
        texts = {views[i + c * n].instruction for c in range(3)}
        sample = train_set[i]
        assert all(views[i + c * n].target == sample.target for c in range(3))
        if record["kind"] == "plan":
            assert len(texts) >= 2  # three renderings of the same goal, not one sentence
        else:
            assert texts == {sample.instruction}  # questions are kept as asked
    assert views[5].instruction == Reworded(train_set, copies=3)[5].instruction  # seeded


@pytest.mark.sim
def test_absent_heldout_is_a_spread_of_held_out_worded_refusals(train_set):
    made = absent_heldout(train_set, 5, seed=1)
    size = len(AbsentReferences(train_set, 1.0))
    assert len(made) == min(5, size) and all(s.target == "cannot()" for s in made)
    assert [s.instruction for s in made] == [s.instruction for s in absent_heldout(train_set, 5, 1)]
    heldout = AbsentReferences(train_set, 1.0, side="heldout", seed=1)
    assert made[0].instruction == heldout[0].instruction  # held-out wording, first included
    assert absent_heldout([train_set[0]], 5) == []  # samples without goal words: none


@pytest.mark.sim
def test_absent_reference_samples_say_cannot_and_name_something_absent(train_set):
    made = AbsentReferences(train_set, per_plan_sample=1.0)
    assert len(made) == sum(r["kind"] == "plan" and r["target"] != "cannot()"
                            for r in item_records(train_set))
    for i in range(len(made)):
        assert made[i].target == "cannot()"
        source, words = made.absent_words(i)
        present = set(scene_objects(source))
        refs = named_refs(words)
        assert any("noun" in r or (r["color"], r["kind"]) not in present for r in refs), words
    assert [made[i].instruction for i in range(4)] == [
        AbsentReferences(train_set, 1.0)[i].instruction for i in range(4)]


@pytest.mark.sim
def test_training_set_combines_weights_views_and_absent_samples(train_set):
    weighted = weight_tasks(train_set, {"stack": 2})
    combined = with_language(weighted, train_set, rewordings=2, absent=0.5)
    plan = sum(r["kind"] == "plan" for r in item_records(train_set))
    assert len(combined) == 2 * len(weighted) + round(0.5 * plan)
    assert with_language(train_set, train_set, 1, 0) is train_set
    with pytest.raises(ValueError, match="per_plan_sample"):
        AbsentReferences(train_set, 0)


@pytest.mark.sim
def test_absent_modes_weighted_to_known_words_never_invent_a_noun(train_set):
    """`train.absent_modes={color: 1, kind: 1}`: every absent sample names a palette colour or
    kind the scene lacks, never a noun the project does not know (which would teach refusing
    unseen synonyms)."""
    made = AbsentReferences(train_set, per_plan_sample=1.0, mode_weights={"color": 1, "kind": 1})
    for i in range(len(made)):
        source, words = made.absent_words(i)
        refs = named_refs(words)
        if "nouns" not in words:  # (sort goals: only the noun fallback can make them absent)
            assert not any("noun" in r for r in refs), words
            assert any((r.get("color"), r["kind"]) not in set(scene_objects(source))
                       for r in refs), words
    with pytest.raises(ValueError, match="mode weights"):
        AbsentReferences(train_set, 1.0, mode_weights={"smell": 1})
    with pytest.raises(ValueError, match="mode weights"):
        AbsentReferences(train_set, 1.0, mode_weights={"noun": 0})


def test_absent_modes_config_names_the_bad_key():
    from embodied_mm.config import ConfigError

    assert load_config(["train.absent_modes={color: 3, kind: 3, noun: 1}"]
                       ).train.absent_modes == {"color": 3, "kind": 3, "noun": 1}
    assert load_config(["train.absent_modes.noun=0"]).train.absent_modes["noun"] == 0
    for recipe in ("default", "palme"):  # every train config lists the key, so it can be set
        assert load_config([f"train={recipe}", "train.absent_modes.noun=0"]
                           ).train.absent_modes["noun"] == 0
    with pytest.raises(ConfigError, match="absent_modes"):
        load_config(["train.absent_modes.smell=1"])
    with pytest.raises(ConfigError, match="absent_modes"):
        load_config(["train.absent_modes={color: 0, kind: 0, noun: 0}"])
