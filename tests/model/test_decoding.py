"""Grammar-constrained decoding: always a valid step, forced tokens batched, KV cache right."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from embodied_mm.model.decoding import (
    StepDecoder,
    StepScope,
    build_trie,
    greedy_decode,
    reference_decode,
    token_tree,
    tree_attention,
    valid_steps,
)
from embodied_mm.model.features import extract
from embodied_mm.plan_language import parse_step
from embodied_mm.scene import held_block

INSTRUCTION = "stack the blocks"


@pytest.fixture(scope="module")
def model(make_model):
    return make_model(inputs=("objects", "robot"))


def names(n):
    return [f"obj_{i}" for i in range(1, n + 1)]


def test_valid_steps_cover_the_grammar():
    steps = valid_steps(names(3))
    assert len(steps) == len(set(steps)) == 6 * 3 + 11  # pick/place/push×4 per obj, 9 zones
    assert {"pick(obj_3)", "push(obj_2, backward)", "place_at(front_left)", "done()",
            "cannot()"} <= set(steps)
    for step in steps:
        parse_step(step, names(3))


def test_trie_needs_a_terminator():
    with pytest.raises(ValueError, match="prefix"):
        build_trie(["ab", "a"], lambda s: [ord(c) for c in s])
    root = build_trie(["ab", "a"], lambda s: [ord(c) for c in s] + [0])
    assert root.children[ord("a")].branching()


def test_trie_is_cached_per_scene(model):
    decoder = StepDecoder(model)
    assert decoder.trie(names(3)) is decoder.trie(names(3))
    assert decoder.trie(names(3)) is not decoder.trie(names(4))


class RandomScores(StepDecoder):
    """Scores allowed tokens at random instead of with the model."""

    def __init__(self, model, seed):
        super().__init__(model)
        self.generator = torch.Generator().manual_seed(seed)

    def scores(self, hidden, choices):
        return torch.randn(len(choices), generator=self.generator)


@settings(max_examples=40, deadline=None)
@given(n_objects=st.integers(0, 9), seed=st.integers(0, 2**31 - 1))
def test_random_scores_always_give_a_valid_step(model, make_obs, n_objects, seed):
    obs = make_obs(n_objects, seed=seed)
    embeds = model.prompt_embeds(extract(obs), INSTRUCTION, [])
    step = RandomScores(model, seed).decode(embeds, obs.object_names)
    assert parse_step(step, obs.object_names)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_objects=st.integers(1, 6))
def test_random_encoders_and_scenes_give_valid_steps(make_model, make_obs, seed, n_objects):
    model = make_model(inputs=("objects", "image", "robot"), seed=seed % 1000)
    obs = make_obs(n_objects, seed=seed)
    embeds = model.prompt_embeds(extract(obs), INSTRUCTION, ["pick(obj_1)"])
    assert parse_step(StepDecoder(model).decode(embeds, obs.object_names), obs.object_names)


def holding_first_block(obs):
    """`obs` with its first block between the closed fingers."""
    block = next(o for o in obs.objects if o.kind == "block")
    obs.ee_pose[:3], obs.gripper_width = block.position, 0.04
    assert held_block(obs) is block
    return block


def test_feasible_scope_leaves_out_the_steps_the_executor_refuses(make_obs):
    obs = make_obs(6, seed=3)
    held = holding_first_block(obs)
    bowls = [o.name for o in obs.objects if o.kind == "bowl"]
    assert bowls, "the scene needs a bowl"
    steps = set(valid_steps(StepScope.of(obs)))
    everything = set(valid_steps(obs.object_names))
    assert set(valid_steps(StepScope.of(obs, feasible_only=False))) == everything
    refused = {f"pick({b})" for b in bowls} | {f"place({held.name})"} | {
        f"push({b}, {d})" for b in bowls for d in ("left", "right", "forward", "backward")}
    assert refused <= everything and steps == everything - refused
    assert {f"place({bowls[0]})", "done()", "cannot()", "place_at(left)"} <= steps


@settings(max_examples=30, deadline=None)
@given(n_objects=st.integers(1, 8), seed=st.integers(0, 2**31 - 1))
def test_decoding_in_the_feasible_scope_never_moves_a_bowl_or_places_on_itself(
        model, make_obs, n_objects, seed):
    obs = make_obs(n_objects, seed=seed)
    kinds = {o.name: o.kind for o in obs.objects}
    held = holding_first_block(obs).name if "block" in kinds.values() else None
    embeds = model.prompt_embeds(extract(obs), INSTRUCTION, [])
    step = parse_step(RandomScores(model, seed).decode(embeds, StepScope.of(obs)),
                      obs.object_names)
    if step.name in ("pick", "push"):
        assert kinds[step.args[0]] == "block"
    if step.name == "place":
        assert step.args[0] != held


class Steered(StepDecoder):
    """Picks the tokens of `path` at every branch; counts tokens the LLM has read."""

    def __init__(self, model, path):
        super().__init__(model)
        self.path, self.read = path, 0

    def _forward(self, embeds, cache):
        self.read += 0 if cache is None else embeds.shape[1]  # tokens after the prompt
        return super()._forward(embeds, cache)

    def scores(self, hidden, choices):
        return (choices == self.path[self.read]).float()


@pytest.mark.parametrize("target", ["done()", "cannot()", "push(obj_12, left)",
                                    "place_at(front_right)", "pick(obj_3)"])
def test_one_forward_per_branching_point(model, make_obs, target):
    obs = make_obs(12)
    path = model.target_ids(target)
    decoder = Steered(model, path)
    branches, node = 0, decoder.trie(obs.object_names)
    for token in path:
        branches += node.branching()
        node = node.children[token]
    assert decoder.trie(obs.object_names).branching() and branches < len(path)
    embeds = model.prompt_embeds(extract(obs), INSTRUCTION, [])
    assert decoder.decode(embeds, obs.object_names) == target
    assert decoder.forward_calls == branches


def test_cached_decoding_matches_a_full_forward(model, make_obs):
    """The hidden state after feeding forced tokens through the KV cache equals a fresh
    forward of prompt + tokens, and gathered scores equal the full-vocabulary logits."""
    obs = make_obs(3)
    embeds = model.prompt_embeds(extract(obs), INSTRUCTION, [])
    tokens = torch.tensor(model.target_ids("push(obj_2, left)")[:4])
    decoder = StepDecoder(model)
    with torch.no_grad():
        _, cache = decoder._forward(embeds, None)
        cached, _ = decoder._forward(model.embed_tokens(tokens)[None], cache)
        full, _ = model.hidden_states(torch.cat([embeds, model.embed_tokens(tokens)[None]], 1))
        torch.testing.assert_close(cached, full[0, -1], rtol=1e-4, atol=1e-4)
        choices = torch.tensor([5, 17, 4351, 262000])
        torch.testing.assert_close(decoder.scores(cached, choices),
                                   model.token_logits(cached)[choices])


def test_greedy_reference_stops_at_the_budget(model, make_obs):
    obs = make_obs(2)
    embeds = model.prompt_embeds(extract(obs), INSTRUCTION, [])
    text = greedy_decode(model, embeds, max_new_tokens=3)
    assert isinstance(text, str)
    assert len(model.tokenizer.encode(text, add_special_tokens=False)) <= 4


def _entry_texts(model, tree):
    """Each token-tree entry as the text from the prompt's end to it."""
    texts = []
    for token, parent in zip(tree.tokens, tree.parents):
        texts.append((texts[parent] if parent >= 0 else "") + model.tokenizer.decode([token]))
    return texts


def test_token_tree_reads_each_step_name_up_to_its_next_decision(model):
    # one movable block: `pick(obj_1)` is then decided by its name alone, `push` up to its
    # direction; `place` branches into an object and a zone; `done()`/`cannot()` are forced
    scope = StepScope(("obj_1", "obj_2"), ("obj_1",), None)
    tree = token_tree(StepDecoder(model).trie(scope))
    texts = _entry_texts(model, tree)
    ends = {t for i, t in enumerate(texts) if i not in tree.parents}
    assert ends == {" place(obj_", " place_at(", " push(obj_1,"}
    assert tree.depths()[texts.index(" place_at(")] == 3

    mask, positions = tree_attention(past=2, prompt=3, tree=tree)
    q = 3 + len(tree.tokens)
    assert mask.shape == (1, 1, q, 2 + q)
    assert positions[0, :3].tolist() == [2, 3, 4]
    for i, parent in enumerate(tree.parents):
        row = mask[0, 0, 3 + i]
        assert row[:5].all()  # the cached positions and the whole prompt
        seen = {j for j in range(len(tree.tokens)) if row[5 + j]}
        ancestors, k = {i}, parent
        while k >= 0:
            ancestors.add(k)
            k = tree.parents[k]
        assert seen == ancestors
        assert positions[0, 3 + i] == 5 + tree.depths()[i]


class SteeredByNode(StepDecoder):
    """Picks the tokens of `path` at every branching point of `scope`'s trie."""

    def __init__(self, model, path, scope):
        super().__init__(model)
        self.want, node = {}, self.trie(scope)
        for token in path:
            if node.branching():
                self.want[id(node.choices)] = token
            node = node.children[token]

    def scores(self, hidden, choices):
        return (choices == self.want[id(choices)]).float()


@pytest.mark.parametrize("target,calls", [("pick(obj_2)", 1), ("place(obj_1)", 1),
                                          ("place_at(left)", 1), ("done()", 1),
                                          ("push(obj_2, left)", 2)])
def test_speculation_decides_the_object_in_the_prompts_forward_pass(model, make_obs, target,
                                                                    calls):
    obs, scope = make_obs(1), StepScope(("obj_1", "obj_2", "obj_3"))  # 3: a wide choice
    embeds = model.prompt_embeds(extract(obs), INSTRUCTION, [])
    decoder = SteeredByNode(model, model.target_ids(target), scope)
    assert decoder.decode(embeds, scope) == target
    assert decoder.forward_calls == calls


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_objects=st.integers(1, 2))
def test_speculation_changes_the_number_of_calls_not_the_answer(make_model, make_obs, seed,
                                                                n_objects):
    """Plain and speculative decoding of random models choose the same step as the
    no-cache reference; speculation never needs more forward passes."""
    model = make_model(inputs=("state", "robot"), seed=seed % 1000)
    obs = make_obs(n_objects, seed=seed)
    embeds = model.prompt_embeds(extract(obs, images=False), INSTRUCTION, ["pick(obj_1)"])
    plain, speculative = StepDecoder(model, speculate=False), StepDecoder(model)
    tree = token_tree(speculative.trie(obs.object_names))
    assert embeds.shape[1] + len(tree.tokens) < model.llm.config.sliding_window  # it applies
    step = plain.decode(embeds, obs.object_names)
    assert speculative.decode(embeds, obs.object_names) == step
    assert step == reference_decode(plain, embeds, obs.object_names)
    assert speculative.forward_calls <= plain.forward_calls


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_objects=st.integers(1, 4))
def test_refusal_bias_moves_only_the_choice_of_cannot(make_model, make_obs, seed, n_objects):
    """A large `cannot_bias` never refuses and otherwise picks the step the model ranks best
    among the rest; a large negative one always refuses; the no-cache reference agrees."""
    model = make_model(inputs=("state", "robot"), seed=seed % 1000)
    obs = make_obs(n_objects, seed=seed)
    embeds = model.prompt_embeds(extract(obs, images=False), INSTRUCTION, [])
    names_ = obs.object_names
    barred = StepDecoder(model, cannot_bias=1e4)
    step = barred.decode(embeds, names_)
    assert step != "cannot()" and step == reference_decode(barred, embeds, names_)
    plain = StepDecoder(model).decode(embeds, names_)
    if plain != "cannot()":  # the bias leaves a decision it does not touch as it was
        assert step == plain
    eager = StepDecoder(model, cannot_bias=-1e4)
    assert eager.decode(embeds, names_) == "cannot()" == reference_decode(eager, embeds, names_)
