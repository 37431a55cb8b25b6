"""The language generator: variety, a clean train/held-out split, meaning kept, absent refs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from embodied_mm.language import make_absent, render, surface_forms
from embodied_mm.language.absent import named_refs
from embodied_mm.language.lexicon import COLOR_WORDS, NOUNS, UNKNOWN_NOUNS, WRAPPERS
from embodied_mm.language.render import FRAMES
from embodied_mm.tasks import TASKS

SEEDS = range(40)


def goals(family: str) -> list[dict]:
    return [TASKS[family].sample(seed).words for seed in SEEDS]


def renderings(family: str, side: str, per_goal: int = 25) -> list[str]:
    rng = np.random.default_rng(0)
    return [render(words, rng, side) for words in goals(family) for _ in range(per_goal)]


def held_out_only(split_of) -> set[str]:
    """Phrases of a split's held-out side that no train-side phrase contains."""
    train = [t for split in split_of for t in split.train]
    return {h for split in split_of for h in split.heldout
            if not any(re.search(rf"\b{re.escape(h)}\b", t) for t in train)}


@pytest.mark.parametrize("family", sorted(TASKS))
def test_every_family_has_thousands_of_surface_forms_on_each_side(family):
    for side in ("train", "heldout"):
        assert len(set(renderings(family, side, per_goal=100))) >= 1000


@pytest.mark.parametrize("family", sorted(TASKS))
def test_train_side_never_uses_a_held_out_word_and_the_sides_share_no_sentence(family):
    words = held_out_only([*NOUNS.values(), *COLOR_WORDS.values(), UNKNOWN_NOUNS])
    train = renderings(family, "train")
    for text in train:
        found = [w for w in words if re.search(rf"\b{re.escape(w)}\b", text.lower())]
        assert not found, (text, found)
    assert not set(train) & set(renderings(family, "heldout"))


def test_held_out_side_mixes_new_words_with_known_ones():
    texts = renderings("pick_place", "heldout")
    heldout_nouns = [n for n in NOUNS["block"].heldout + NOUNS["bowl"].heldout]
    with_new = [t for t in texts if any(n in t for n in heldout_nouns)]
    assert 0.2 < len(with_new) / len(texts) < 0.95
    assert any(w.format(s="").strip(" ,?") in " ".join(texts).lower() for w in WRAPPERS.heldout)


@pytest.mark.parametrize("family", ["pick_place", "stack", "push_to_side", "place_at_zone"])
def test_an_instruction_names_the_colour_of_every_object_of_its_goal(family):
    rng = np.random.default_rng(1)
    for words in goals(family):
        for side in ("train", "heldout"):
            text = render(words, rng, side).lower()
            for key in ("mover", "target"):
                if key in words:
                    spellings = COLOR_WORDS[words[key]["color"]].train + \
                        COLOR_WORDS[words[key]["color"]].heldout
                    assert any(s in text for s in spellings), (text, words[key])


def test_tower_listings_keep_the_order_bottom_up_or_say_top_down():
    rng = np.random.default_rng(2)
    for words in goals("tower"):
        colors = [level["color"] for level in words["levels"]]
        for side in ("train", "heldout"):
            text = render(words, rng, side).lower()
            if "then put" in text:  # "put B on A, then put C on B": pairs, not a listing
                continue
            listing = text.rsplit(":", 1)[-1]  # "…: red, blue and green, from the bottom"
            # a spelling as a whole word: not "blue" inside cyan's "blue-green"
            whole = r"(?<![\w-]){}(?!\w|-(?!colou?red))"
            spots = [min((m.start() for s in COLOR_WORDS[c].train + COLOR_WORDS[c].heldout
                          for m in re.finditer(whole.format(re.escape(s)), listing)),
                         default=-1)
                     for c in colors]
            assert -1 not in spots, text
            if any(w in text for w in ("top to bottom", "top down", "top first", "top one first")):
                assert spots == sorted(spots, reverse=True), text
            else:
                assert spots == sorted(spots), text


def test_same_seed_same_instruction_and_sides_share_the_scene():
    for task in TASKS.values():
        a, b = task.sample(5), task.sample(5)
        held = task.sample(5, language="heldout")
        assert a.instruction == b.instruction and a.scene == held.scene
        assert a.words["frame"] in FRAMES


@pytest.mark.parametrize("mode", ["color", "kind", "noun"])
def test_absent_references_name_something_the_scene_lacks(mode):
    rng = np.random.default_rng(3)
    for family in sorted(TASKS):
        if family in ("infeasible",):
            continue
        for seed in range(10):
            episode = TASKS[family].sample(seed)
            scene = [(s.color, s.kind) for s in episode.scene]
            changed = make_absent(episode.words, scene, rng, "train", mode)
            if changed is None:
                assert mode != "noun" and family == "sort_by_color"
                continue
            refs = named_refs(changed)
            named = [(r.get("color"), r["kind"]) for r in refs if "noun" not in r]
            assert any("noun" in r for r in refs) or "nouns" in changed or any(
                pair not in scene for pair in named if pair[0] is not None)
            assert changed != episode.words


def test_absent_episodes_are_infeasible_and_the_oracle_says_cannot():
    for family, task in TASKS.items():
        episode = task.sample(7, absent="mixed", language="heldout")
        assert episode.task == "infeasible"
        if family != "infeasible":
            assert episode.goal["family"] == family
        assert str(TASKS["infeasible"].oracle(episode, None, [])) == "cannot()"


def test_bad_side_and_mode_are_named():
    with pytest.raises(ValueError, match="language side"):
        render({"frame": "sort"}, np.random.default_rng(0), "test")
    with pytest.raises(ValueError, match="absent mode"):
        make_absent({"frame": "sort"}, [], np.random.default_rng(0), "train", "size")
    assert len(surface_forms({"frame": "sort"}, "train", draws=500)) > 50


def test_plurals_follow_english_endings_and_the_exceptions():
    from embodied_mm.language.render import plural

    assert [plural(n) for n in ("bowl", "serving dish", "battery", "toy car", "knife",
                                "scissors", "tomato")] == \
        ["bowls", "serving dishes", "batteries", "toy cars", "knives", "scissors", "tomatoes"]
    for noun in [*UNKNOWN_NOUNS.train, *UNKNOWN_NOUNS.heldout, *NOUNS["block"].train]:
        assert not plural(noun).endswith(("ss", "shs", "chs", "fes")), noun
