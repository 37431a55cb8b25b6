"""PalmE: the multimodal sentence, the loss, LoRA, checkpoints, and a tiny overfit."""

from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pytest
import torch

from embodied_mm.model.config import INPUTS, PalmEConfig
from embodied_mm.model.decoding import StepDecoder, greedy_decode
from embodied_mm.model.encoders import ENCODERS, compact_groups
from embodied_mm.model.features import (
    RELATION_WORDS,
    UNLABELLED,
    attribute_labels,
    collate,
    extract,
    relation_weights,
)
from embodied_mm.model.palme import (
    IGNORE,
    SLOT_IDS,
    CheckpointError,
    PalmE,
    Sample,
    collate_samples,
)
from embodied_mm.types import ObjectState, Observation

INSTRUCTION = "put the red block in the blue bowl"


def samples(make_obs, images=True):
    return [Sample(extract(make_obs(3, seed=1), images=images), INSTRUCTION, [], "pick(obj_1)"),
            Sample(extract(make_obs(3, seed=2), images=images), INSTRUCTION, ["pick(obj_1)"],
                   "place(obj_2)"),
            Sample(extract(make_obs(4, seed=3), images=images), "push the green block left", [],
                   "push(obj_3, left)")]


@pytest.mark.parametrize("bad", [{"inputs": ("state", "objects")}, {"inputs": ("vit",)},
                                 {"inputs": ()}, {"dtype": "float33"}, {"image_tokens": 0},
                                 {"lora_r": 0}, {"describe_weight": -1.0}])
def test_config_rejects(bad):
    with pytest.raises(ValueError, match="model"):
        PalmEConfig(**bad)


def test_config_inputs_are_the_encoders():
    assert set(INPUTS) == set(ENCODERS)


def test_sentence_follows_design(make_model):
    model = make_model(inputs=("objects", "image", "robot"))
    assert model.sentence(2, INSTRUCTION + ".", "pick(obj_1)") == (
        "Task: put the red block in the blue bowl. <obj>1 <obj>2 Scene: <img>. "
        "Robot: <robot>. Done: pick(obj_1). Holding: nothing. Next:")
    only_image = make_model(inputs=("image",))
    assert only_image.sentence(2, INSTRUCTION, "nothing") == (
        "Task: put the red block in the blue bowl. Scene: <img>. Done: nothing. "
        "Holding: nothing. Next:")
    assert model.sentence(1, "what is obj_1?", "nothing", kind="vqa") == (
        "<obj>1 Scene: <img>. Robot: <robot>. Q: what is obj_1? A:")
    assert model.config.needs_images
    assert not make_model(inputs=("state", "robot")).config.needs_images


def test_holding_clause_repeats_the_held_objects_tokens(make_model, make_obs):
    model = make_model(inputs=("state", "robot"))
    obs = make_obs(3, seed=4)
    obs.ee_pose[:3] = obs.objects[1].position + np.array([0.0, 0.0, 0.005])  # obj_2 grasped
    obs.gripper_width = 0.04
    free = make_obs(3, seed=4)
    free.gripper_width = 0.08  # fully open: holds nothing
    batch = collate_samples([Sample(extract(obs, images=False), INSTRUCTION, ["pick(obj_2)"]),
                             Sample(extract(free, images=False), INSTRUCTION, [])])
    assert model._held(batch) == [1, None]
    assert model.sentence(3, INSTRUCTION, "pick(obj_2)", holding=True).endswith(
        "Done: pick(obj_2). Holding: <obj>. Next:")
    embeds, mask, _, _ = model.embed_batch(batch, with_targets=False)
    ids = model.sentence_ids(model.sentence(3, INSTRUCTION, "pick(obj_2)", holding=True))
    slots = [t for t, i in enumerate(ids) if i == SLOT_IDS["obj"]]
    width = len(slots) // 4  # three objects, then the held one again
    held, second = slots[3 * width:], slots[width:2 * width]
    torch.testing.assert_close(embeds[0, held], embeds[0, second])
    # a question never gets the clause
    assert "Holding" not in model.sentence(3, "what is obj_1?", "nothing", kind="vqa")


def test_sentence_ids_have_one_slot_per_encoder_vector(make_model):
    model = make_model(inputs=("state", "image", "robot"), image_tokens=9)
    ids = model.sentence_ids(model.sentence(3, INSTRUCTION, "nothing"))
    assert ids[0] == model.tokenizer.bos_token_id
    counts = {kind: ids.count(slot) for kind, slot in SLOT_IDS.items()}
    assert counts == {"obj": 3 * 4, "img": 9, "robot": 1}  # 4 packed vectors per object
    assert all(i >= 0 for i in ids if i not in SLOT_IDS.values())
    text = model.tokenizer.decode([i for i in ids if i >= 0], skip_special_tokens=True)
    assert text.startswith(f"Task: {INSTRUCTION}.") and text.endswith("Next:")


def test_embeddings_are_text_and_encoder_vectors(make_model, make_obs):
    model = make_model(inputs=("state", "robot"))
    batch = collate_samples(samples(make_obs, images=False)[:1])
    tokens = model.encode(batch)[0][0]
    ids = model.sentence_ids(model.sentence(3, INSTRUCTION, "nothing"))
    embeds = model.embed_sequence(ids, tokens)
    ids_t = torch.tensor(ids)
    text = ids_t >= 0
    # text rows come from the LLM's own (scaled) embedding module, slots from the encoders
    torch.testing.assert_close(embeds[text], model.llm.get_input_embeddings()(ids_t[text]))
    torch.testing.assert_close(embeds[ids_t == SLOT_IDS["obj"]], tokens["obj"])
    torch.testing.assert_close(embeds[ids_t == SLOT_IDS["robot"]], tokens["robot"])


def test_placeholder_count_mismatch_raises(make_model, make_obs):
    model = make_model(inputs=("state", "robot"))
    tokens = model.encode(collate_samples(samples(make_obs, images=False)[:1]))[0][0]
    ids = model.sentence_ids(model.sentence(4, INSTRUCTION, "nothing"))  # 4 objects, 3 given
    with pytest.raises(ValueError, match="16 <obj> placeholder.*12 <obj> vector"):
        model.embed_sequence(ids, tokens)
    with pytest.raises(ValueError, match="1 <robot> placeholder.*0 <robot>"):
        model.embed_sequence(model.sentence_ids(model.sentence(3, INSTRUCTION, "nothing")),
                             {"obj": tokens["obj"]})


def _separate(model, batch):
    """(N, V, H) unpacked vectors of the batch's first scene, named `tokens.names`: the
    model's object encoder with one position per vector (the same weights)."""
    encoder = model.encoders[[k for k in ("state", "objects") if k in model.encoders][0]]
    unpacked = copy.deepcopy(encoder)
    unpacked.tokens.groups = tuple((n,) for n in encoder.tokens.names)
    unpacked.tokens.per_object = len(unpacked.tokens.groups)
    tensors = {k: v for k, v in batch.items() if torch.is_tensor(v)}
    out = unpacked(tensors)[0][0]
    n = int(tensors["n_objects"][0])
    return out[:n * unpacked.tokens.per_object].reshape(n, unpacked.tokens.per_object, -1)


def test_object_tokens_are_the_llms_words_packed_into_four_positions(make_model, make_obs):
    model = make_model(inputs=("state", "robot"))
    tokens = model.encoders["state"].tokens
    assert tokens.names == ("color", "kind", "row", "column", "free", "relation", "support",
                            "held_color", "pairing")
    assert model.object_layout() == [list(g) for g in compact_groups(tokens.names)]
    assert model.object_layout()[2] == ["column"] and model.slots["obj"] == 4  # no zone word
    batch = collate_samples(samples(make_obs, images=False)[:1])
    with torch.no_grad():  # make the encoder certain: every object is green
        head = tokens.classify["color"]
        head.weight.zero_()
        head.bias.copy_(torch.arange(len(head.bias)) * -100.0)
        head.bias[1] = 100.0
    separate = _separate(model, batch)
    words = model._attribute_words()
    green = model.tokenizer.encode(" green", add_special_tokens=False)
    torch.testing.assert_close(words["color"][1], model.embed_tokens(torch.tensor(green))[0])
    torch.testing.assert_close(separate[:, 0], words["color"][1].expand(3, -1))
    three = model.tokenizer.encode("3", add_special_tokens=False)
    torch.testing.assert_close(words["row"][3], model.embed_tokens(torch.tensor(three))[0])
    packed, logits = model.encode(batch)
    packed = packed[0]["obj"].reshape(3, 4, -1)
    index = {name: i for i, name in enumerate(tokens.names)}
    for position, group in enumerate(tokens.groups):
        expected = separate[:, [index[n] for n in group]].sum(1) / len(group) ** 0.5
        torch.testing.assert_close(packed[:, position], expected)
    assert set(logits) == {"color", "kind", "row", "column"}
    # the camera's object tokens have no computed words: nothing reads the state rows
    camera = make_model(inputs=("objects", "robot"))
    assert camera.encoders["objects"].tokens.names == ("color", "kind", "row", "column", "free")
    assert camera.object_layout() == [["color", "kind"], ["row"], ["column"], ["free"]]


def test_objects_are_named_by_number_after_their_vectors(make_model):
    model = make_model(inputs=("state", "robot"))
    text = model.sentence(["obj_1", "obj_3", "obj_10"], INSTRUCTION, "nothing")
    assert text.startswith(f"Task: {INSTRUCTION}. <obj>1 <obj>3 <obj>10 Robot: <robot>.")
    ids = model.sentence_ids(text)
    start = len(model.plan_prefix_ids(INSTRUCTION))
    names = [model.tokenizer.decode(ids[i:i + n])
             for i, n in ((start + 4, 1), (start + 9, 1), (start + 14, 2))]
    assert names == ["1", "3", "10"]  # 4 slots, then the number: 5 positions an object
    assert ids[start:start + 4] == [SLOT_IDS["obj"]] * 4
    one, two = (model.sentence_ids(model.sentence(n, INSTRUCTION, "nothing")) for n in (1, 2))
    assert len(two) - len(one) == 5


def test_position_labels_put_table_corners_in_row_and_column_0_and_9():
    # near the robot's left table corner → row 0, column 0; far right corner → 9, 9
    corners = [ObjectState("obj_1", "block", "red", np.array([0.285, 0.325, 0.02]),
                           np.array([0, 0, 0, 1.0]), np.full(3, 0.04)),
               ObjectState("obj_2", "bowl", "blue", np.array([0.715, -0.325, 0.02]),
                           np.array([0, 0, 0, 1.0]), np.full(3, 0.04))]
    scene = extract(Observation(np.zeros(7), 0.08, np.zeros(7), corners), images=False)
    batch = collate([scene])
    truth = attribute_labels(batch["objects"], batch["object_mask"])
    assert truth["row"].tolist() == [[0, 9]] and truth["column"].tolist() == [[0, 9]]


def test_sentence_names_objects_as_the_observation_does(make_model, make_obs):
    """After a fault removed obj_2, the others keep their names; the prompt must use them, or
    `pick(obj_2)` would mean the object the plan calls obj_3."""
    model = make_model(inputs=("state", "robot"))
    obs = make_obs(3, seed=1)
    obs.objects = [obs.objects[0], obs.objects[2]]
    scene = extract(obs, images=False)
    assert scene.object_names == ("obj_1", "obj_3")
    batch = collate_samples([Sample(scene, INSTRUCTION)])
    text = model.sentence(batch["object_names"][0], INSTRUCTION, "nothing")
    assert "<obj>3" in text and "<obj>2" not in text
    assert "<obj>2" in model.sentence(2, INSTRUCTION, "nothing")  # obj_1 … obj_N
    training_scene = dataclasses.replace(scene, names=())
    assert training_scene.object_names == ("obj_1", "obj_2")


def _on_table(name, kind, color, x, y):
    return ObjectState(name, kind, color, np.array([x, y, 0.02]), np.array([0, 0, 0, 1.0]),
                       np.full(3, 0.04))


def _word(model, text):
    ids = torch.tensor(model.tokenizer.encode(text, add_special_tokens=False))
    return model.embed_tokens(ids).float().mean(0)


def _computed(model, objects, gripper_width=0.08, ee_pose=None):
    """name → (N, H) computed-word vectors of a scene of `objects`."""
    ee_pose = np.zeros(7) if ee_pose is None else ee_pose
    scene = extract(Observation(np.zeros(7), gripper_width, ee_pose, objects), images=False)
    separate = _separate(model, collate_samples([Sample(scene, INSTRUCTION)]))
    names = model.encoders["state"].tokens.names
    return {name: separate[:, names.index(name)] for name in model.config.computed_words}


def test_relation_words_say_which_object_of_its_kind_is_leftmost_nearest(make_model):
    # x grows away from the robot, y to its left
    objects = [_on_table("obj_1", "block", "red", 0.50, 0.10),   # leftmost block
               _on_table("obj_2", "block", "blue", 0.40, -0.10),  # rightmost and nearest
               _on_table("obj_3", "bowl", "green", 0.60, 0.00),   # the only bowl: all four
               _on_table("obj_4", "block", "red", 0.55, 0.00),    # farthest block
               _on_table("obj_5", "block", "pink", 0.45, 0.05)]   # none: middle
    short = _on_table("obj_1", "block", "red", 0.5, 0.0)
    batch = collate([extract(Observation(np.zeros(7), 0.08, np.zeros(7), o), images=False)
                     for o in (objects, [short])])
    weights = relation_weights(batch["objects"], batch["object_mask"])  # (2, 5, 5)
    names = dict(zip(RELATION_WORDS, range(len(RELATION_WORDS))))
    held = [{w for w in RELATION_WORDS if weights[0, i, names[w]] > 0} for i in range(5)]
    assert held == [{"leftmost"}, {"rightmost", "nearest"},
                    {"leftmost", "rightmost", "nearest", "farthest"}, {"farthest"}, {"middle"}]
    torch.testing.assert_close(weights.sum(-1), torch.tensor([[1.0] * 5, [1, 0, 0, 0, 0]]))

    model = make_model(inputs=("state", "robot"))
    relation = _computed(model, objects)["relation"]
    torch.testing.assert_close(relation[0], _word(model, " leftmost"))
    torch.testing.assert_close(relation[4], _word(model, " middle"))
    # A scene with nothing left on the table (every block removed) still makes a prompt.
    empty = extract(Observation(np.zeros(7), 0.08, np.zeros(7), []), images=False)
    assert model.prompt_embeds(empty, INSTRUCTION, []).shape[0] > 0


def test_support_words_say_what_each_object_rests_on(make_model):
    model = make_model(inputs=("state", "robot"))
    objects = [_on_table("obj_1", "block", "red", 0.5, 0.1),
               _on_table("obj_2", "block", "blue", 0.5, -0.1)]
    objects[1].position[2] = 0.3  # lifted: rests on nothing
    support = _computed(model, objects)["support"]
    for row, word in zip(support, (" table", " air")):
        torch.testing.assert_close(row, _word(model, word))


def test_pairing_words_say_whether_an_object_is_with_its_colour_partner(make_model):
    model = make_model(inputs=("state", "robot"))
    block_in_bowl = ObjectState("obj_1", "block", "red", np.array([0.6, -0.1, 0.03]),
                                np.array([0, 0, 0, 1.0]), np.full(3, 0.04))
    red_bowl = dataclasses.replace(_on_table("obj_2", "bowl", "red", 0.6, -0.1),
                                   size=np.array([0.12, 0.12, 0.05]))
    objects = [block_in_bowl, red_bowl,
               _on_table("obj_3", "block", "blue", 0.4, 0.0),
               _on_table("obj_4", "bowl", "blue", 0.5, 0.2),
               _on_table("obj_5", "block", "green", 0.4, 0.2)]
    pairing = _computed(model, objects)["pairing"]
    for row, word in zip(pairing, (" home", " home", " away", " away", " alone")):
        torch.testing.assert_close(row, _word(model, word))
    # the ablation: without the per-family word the objects keep the general scene words
    ablated = make_model(inputs=("state", "robot"), pairing_words=False)
    assert ablated.config.computed_words == ("relation", "support", "held_color")
    assert ablated.object_layout()[-1] == ["free", "support", "held_color"]


def test_zone_words_name_the_table_cell_an_object_is_in(make_model):
    from embodied_mm.table import TABLE

    model = make_model(inputs=("state", "robot"), zone_words=True)
    assert model.config.computed_words[-1] == "zone"
    assert model.object_layout()[2] == ["column", "zone"] and model.slots["obj"] == 4
    corners = [(TABLE.x_min + 0.02, TABLE.y_max - 0.02), (TABLE.x_max - 0.02, TABLE.y_min + 0.02),
               tuple(TABLE.center), (TABLE.x_max - 0.02, float(TABLE.center[1]))]
    objects = [_on_table(f"obj_{i + 1}", "block", "red", x, y) for i, (x, y) in enumerate(corners)]
    zone = _computed(model, objects)["zone"]
    for row, (x, y) in zip(zone, corners):
        truth = TABLE.zone_of(np.array([x, y]))  # what a zone question's answer is
        torch.testing.assert_close(row, _word(model, " " + truth.replace("_", " ")))
    assert [TABLE.zone_of(np.array(c)) for c in corners] == [
        "front_left", "back_right", "center", "back"]


def test_order_words_are_ordinal_words_packed_with_row_and_column(make_model):
    model = make_model(inputs=("state", "robot"), order_words=True)
    assert model.config.computed_words[-2:] == ("across", "depth")
    assert model.object_layout()[1:3] == [["row", "depth"], ["column", "across"]]
    objects = [_on_table("obj_1", "block", "red", 0.5, -0.1),
               _on_table("obj_2", "bowl", "blue", 0.4, 0.2)]
    computed = _computed(model, objects)
    torch.testing.assert_close(computed["across"][0], _word(model, " second"))
    torch.testing.assert_close(computed["across"][1], _word(model, " first"))
    torch.testing.assert_close(computed["depth"][0], _word(model, " second"))


def test_held_color_words_say_whether_an_object_has_the_held_colour(make_model):
    model = make_model(inputs=("state", "robot"))
    objects = [_on_table("obj_1", "block", "red", 0.5, 0.1),
               _on_table("obj_2", "bowl", "red", 0.6, -0.1),
               _on_table("obj_3", "bowl", "blue", 0.4, 0.0)]
    ee_pose = np.array([*objects[0].position, 0, 0, 0, 1.0])  # obj_1 in a closed gripper
    holding = _computed(model, objects, 0.04, ee_pose)["held_color"]
    empty = _computed(model, objects, 0.08, ee_pose)["held_color"]
    for rows, words in ((holding, (" other", " same", " other")), (empty, (" other",) * 3)):
        for row, word in zip(rows, words):
            torch.testing.assert_close(row, _word(model, word))


def test_a_checkpoint_packed_with_another_grouping_is_refused(make_model, tmp_path):
    model = make_model(inputs=("state", "robot"))
    model.save(tmp_path)
    meta = json.loads((tmp_path / "config.json").read_text())
    groups = model.encoders["state"].tokens.groups
    assert meta["object_layout"] == model.object_layout() == [list(g) for g in groups]
    model.load(tmp_path)
    meta["object_layout"] = [["color", "kind", "free"], ["row"], ["column"]]  # another packing
    (tmp_path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="packed as .*COMPACT_GROUPS"):
        model.load(tmp_path)


def test_a_checkpoint_of_the_older_format_is_refused_with_the_reason(make_model, tmp_path):
    make_model(inputs=("state", "robot")).save(tmp_path)
    meta = json.loads((tmp_path / "config.json").read_text())
    meta["format"] = "embodied_mm.palme/1"
    (tmp_path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="older version"):
        PalmE.from_checkpoint(tmp_path)


def test_warm_start_copies_what_fits_and_reports_the_rest(make_model, tmp_path):
    old = make_model(inputs=("state", "robot"))
    with torch.no_grad():
        for p in old.trained_state().values():
            p.add_(1.0)
    old.save(tmp_path)
    new = make_model(inputs=("state", "robot"), encoder_width=32)  # another MLP width
    fresh = {k: v.clone() for k, v in new.trained_state().items()}
    added = new.warm_start(tmp_path)
    assert added and all(k.startswith("encoders.") for k in added)
    for name, value in new.trained_state().items():
        expected = fresh[name] if name in added else old.trained_state()[name]
        assert torch.equal(value, expected), name
    with pytest.raises(CheckpointError, match="no PaLM-E checkpoint"):
        new.warm_start(tmp_path / "missing")


def test_warm_start_with_a_weight_averages_the_two_models(make_model, tmp_path):
    before = make_model(inputs=("state", "robot"))
    before.save(tmp_path)
    after = make_model(inputs=("state", "robot"))
    with torch.no_grad():
        for p in after.trained_state().values():
            p.add_(2.0)  # the fine-tuned model
    tuned = {k: v.clone() for k, v in after.trained_state().items()}
    assert after.warm_start(tmp_path, weight=0.25) == []
    for name, value in after.trained_state().items():
        expected = 0.75 * tuned[name] + 0.25 * before.trained_state()[name]
        torch.testing.assert_close(value, expected, msg=name)


def test_describe_loss_teaches_object_colours(make_model, make_obs):
    model = make_model(inputs=("state", "robot"))
    batch = collate_samples(samples(make_obs, images=False))
    truth = attribute_labels(batch["objects"], batch["object_mask"])
    assert (truth["color"][~batch["object_mask"]] == UNLABELLED).all()  # padding
    assert (truth["color"][batch["object_mask"]] >= 0).all()
    optimizer = torch.optim.Adam(model.encoders.parameters(), lr=3e-3)
    for _ in range(60):
        optimizer.zero_grad()
        model(batch).backward()
        optimizer.step()
    _, logits = model.encode(batch)
    real = batch["object_mask"]
    assert (logits["color"].argmax(-1)[real] == truth["color"][real]).all()
    assert (logits["kind"].argmax(-1)[real] == truth["kind"][real]).all()


def test_images_required_by_inputs(make_model, make_obs):
    model = make_model(inputs=("objects", "robot"))
    with pytest.raises(ValueError, match="camera image"):
        model(collate_samples(samples(make_obs, images=False)))


@pytest.mark.parametrize("inputs", [("objects", "robot"), ("state", "robot"),
                                    ("image", "robot")])
def test_loss_trains_only_the_encoders(make_model, make_obs, inputs):
    model = make_model(inputs=inputs)
    batch = collate_samples(samples(make_obs, images=model.config.needs_images))
    loss = model(batch)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is None for p in model.llm.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.encoders.parameters())


def test_labels_cover_exactly_the_target_and_terminator(make_model, make_obs):
    model = make_model(inputs=("state", "robot"))
    batch = collate_samples(samples(make_obs, images=False))
    _, mask, labels, _ = model.embed_batch(batch, with_targets=True)
    for i, (row, target) in enumerate(zip(labels.tolist(), batch["target"])):
        expected = model.target_ids(target)
        assert expected[-1] == model.tokenizer.eos_token_id
        prompt = model.sentence_ids(model.sentence(int(batch["n_objects"][i]),
                                                   batch["instruction"][i], batch["done"][i]))
        length = len(prompt) + len(expected)
        assert row[len(prompt):length] == expected  # right after `Next:`, nothing else
        assert set(row[:len(prompt)] + row[length:]) == {IGNORE}
        assert mask[i].tolist() == [1] * length + [0] * (len(row) - length)


def test_lora_adds_trainable_parameters_only_in_lora_layers(make_model, make_obs):
    plain = make_model(inputs=("state", "robot"))
    lora = make_model(inputs=("state", "robot"), lora=True, lora_r=4,
                      lora_targets=("q_proj", "v_proj"))
    trainable = [n for n, p in lora.named_parameters() if p.requires_grad]
    llm_trainable = [n for n in trainable if n.startswith("llm.")]
    assert llm_trainable and all("lora_" in n for n in llm_trainable)
    assert {n.split(".")[-4] for n in llm_trainable} == {"q_proj", "v_proj"}
    assert set(trainable) - set(llm_trainable) == {
        n for n, p in plain.named_parameters() if p.requires_grad}
    frozen = [p for n, p in lora.llm.named_parameters() if "lora_" not in n]
    assert frozen and not any(p.requires_grad for p in frozen)
    batch = collate_samples(samples(make_obs, images=False))
    with torch.no_grad():  # LoRA's B starts at zero: same function as the frozen LLM
        torch.testing.assert_close(lora(batch), plain(batch))


def test_merged_lora_gives_the_same_outputs_with_plain_layers(make_model, make_obs, tmp_path):
    model = make_model(inputs=("state", "robot"), lora=True)
    with torch.no_grad():
        for name, p in model.trained_state().items():
            if "lora_B" in name:  # B starts at zero: make the update real
                p.add_(torch.randn_like(p) * 0.05)
    embeds = model.prompt_embeds(extract(make_obs(3, seed=5), images=False), INSTRUCTION, [])
    names = [f"obj_{i}" for i in (1, 2, 3)]
    with torch.no_grad():
        before = model.hidden_states(embeds)[0]
    step = StepDecoder(model).decode(embeds, names)
    model.merge_lora()
    assert not any("lora_" in n for n, _ in model.llm.named_parameters())
    with torch.no_grad():
        torch.testing.assert_close(model.hidden_states(embeds)[0], before, rtol=1e-4, atol=1e-4)
    assert StepDecoder(model).decode(embeds, names) == step
    with pytest.raises(ValueError, match="merged"):
        model.save(tmp_path)


def test_checkpoint_round_trip(make_model, make_obs, tmp_path):
    model = make_model(inputs=("objects", "robot"), lora=True)
    with torch.no_grad():
        for p in model.trained_state().values():
            p.add_(torch.randn_like(p) * 0.05)  # move away from the initialisation
    model.save(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["config"]["lora"] is True
    # readable by whoever may read the config (safetensors alone would write 0600)
    mode = (tmp_path / "config.json").stat().st_mode
    assert (tmp_path / "model.safetensors").stat().st_mode == mode
    loaded = PalmE.from_checkpoint(tmp_path)
    assert loaded.config == model.config
    assert set(loaded.trained_state()) == set(model.trained_state())
    batch = collate_samples(samples(make_obs))
    with torch.no_grad():
        assert torch.equal(loaded(batch), model(batch))
    scene = extract(make_obs(3, seed=5))
    embeds = [m.prompt_embeds(scene, INSTRUCTION, []) for m in (model, loaded)]
    assert torch.equal(*embeds)
    names = [f"obj_{i}" for i in (1, 2, 3)]
    assert StepDecoder(model).decode(embeds[0], names) == StepDecoder(loaded).decode(embeds[1],
                                                                                     names)


def test_mismatched_checkpoints_are_refused(make_model, tiny_llm, tmp_path):
    model = make_model(inputs=("state", "robot"))
    model.save(tmp_path)
    with pytest.raises(CheckpointError, match="inputs: checkpoint"):
        make_model(inputs=("objects", "robot")).load(tmp_path)
    with pytest.raises(CheckpointError, match="encoder_width"):
        make_model(inputs=("state", "robot"), encoder_width=64).load(tmp_path)
    other_llm, tokenizer = tiny_llm[0].__class__(tiny_llm[0].config), tiny_llm[1]
    with pytest.raises(CheckpointError, match="another LLM"):
        PalmE(PalmEConfig(llm="tiny", inputs=("state", "robot"), lora=False),
              llm=(other_llm, tokenizer)).load(tmp_path)
    with pytest.raises(CheckpointError, match="no PaLM-E checkpoint"):
        model.load(tmp_path / "missing")
    meta = json.loads((tmp_path / "config.json").read_text())
    meta["config"]["colour"] = "red"
    (tmp_path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="bad model config"):
        model.load(tmp_path)


def test_corrupted_checkpoints_are_a_clear_error(make_model, tmp_path):
    model = make_model(inputs=("state", "robot"))
    model.save(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated, as by a full disk
    with pytest.raises(CheckpointError, match="model.safetensors cannot be read.*corrupted"):
        model.load(tmp_path)
    (tmp_path / "config.json").write_text('{"format": "embodied_mm.palme/1", "con')
    with pytest.raises(CheckpointError, match="not valid JSON"):
        model.load(tmp_path)
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="is not a embodied_mm.palme/2 checkpoint"):
        model.load(tmp_path)


def overfit(model, batch, steps, lr=1e-2):
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    losses = []
    for _ in range(steps):
        loss = model(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_overfit_with_lora_then_decoders_emit_the_targets(make_model, make_obs):
    model = make_model(inputs=("state", "robot"), lora=True,
                       lora_targets=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                     "up_proj", "down_proj"))
    data = samples(make_obs, images=False)
    losses = overfit(model, collate_samples(data), steps=40)
    assert losses[-1] < 0.25 * losses[0], losses
    decoder = StepDecoder(model)
    for sample in data:
        embeds = model.prompt_embeds(sample.scene, sample.instruction, sample.done)
        names = [f"obj_{i + 1}" for i in range(sample.scene.n_objects)]
        assert decoder.decode(embeds, names) == sample.target
        assert greedy_decode(model, embeds) == sample.target


def test_frozen_llm_training_moves_the_loss(make_model, make_obs):
    """Encoders alone cannot reshape a random 2-layer LLM much; they must still learn."""
    model = make_model(inputs=("state", "robot"))
    llm_before = {n: p.clone() for n, p in model.llm.named_parameters()}
    losses = overfit(model, collate_samples(samples(make_obs, images=False)), steps=30)
    assert losses[-1] < 0.85 * losses[0], losses
    assert all(torch.equal(p, llm_before[n]) for n, p in model.llm.named_parameters())
