"""`embodied-mm train` on the tiny LLM: loss, metrics, checkpoints, resume, DDP, final eval."""

from __future__ import annotations

import copy
import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from embodied_mm import train as train_module
from embodied_mm.config import ConfigError, load_config
from embodied_mm.config.schema import PlannerConfig
from embodied_mm.model.features import extract
from embodied_mm.model.palme import Sample
from embodied_mm.plan_language import parse_step
from embodied_mm.planner.palme import PalmePlanner
from embodied_mm.train import METRICS_FILE, train
from embodied_mm.training.data import BatchOrder, heldout_samples, load_splits, weight_tasks
from embodied_mm.training.heldout import object_args, selection_score
from embodied_mm.types import ObjectState, Observation

COLORS = ("red", "green", "blue", "yellow")
# The camera-only inputs (no computed scene words: they read state rows).
CAMERA_ONLY = ("model.inputs=[objects,robot]",)
TEMPLATES = ("pick up the {} block", "grasp the {} block")  # the second one is held out


def observation(rng: np.random.Generator, colors: list[str]) -> Observation:
    """Blocks on the table, each with a square mask in a random 64×64 camera image."""
    segmentation = np.full((64, 64), -1, np.int32)
    objects = []
    for i, color in enumerate(colors):
        y, x = rng.integers(0, 56, size=2)
        segmentation[y:y + 8, x:x + 8] = 10 + i
        objects.append(ObjectState(
            f"obj_{i + 1}", "block", color,
            np.array([rng.uniform(0.3, 0.7), rng.uniform(-0.3, 0.3), 0.02]),
            np.array([0.0, 0.0, 0.0, 1.0]), np.full(3, 0.04), mask_id=10 + i))
    return Observation(rng.normal(size=7), 0.08, rng.normal(size=7), objects,
                       rgb=rng.integers(0, 256, (64, 64, 3), dtype=np.uint8),
                       segmentation=segmentation)


def samples(n: int, seed: int, template: str, images: bool = False) -> list[Sample]:
    """Scenes of 2–4 coloured blocks; the target picks the named one, or says done()."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        colors = list(rng.permutation(COLORS)[:rng.integers(2, 5)])
        k = int(rng.integers(len(colors)))
        done = ["pick(obj_1)"] if rng.random() < 0.25 else []
        target = "done()" if done else f"pick(obj_{k + 1})"
        scene = extract(observation(rng, colors), images=images, image_size=32)
        out.append(Sample(scene, template.format(colors[k]), done, target))
    return out


def data() -> tuple[list[Sample], list[Sample]]:
    return samples(48, seed=0, template=TEMPLATES[0]), samples(12, seed=1, template=TEMPLATES[1])


def config(out_dir, *overrides):
    return load_config(["model.llm=tiny", "model.inputs=[state,robot]", "model.encoder_width=32",
                        f"train.out_dir={out_dir}", "train.steps=40", "train.batch_size=8",
                        "train.lr=0.01", "train.warmup_steps=2", "train.eval_every=20",
                        "train.checkpoint_every=20", "train.eval_samples=12",
                        "train.final_eval_episodes=0", "train.num_threads=1",
                        "train.autocast=none", *overrides])


def read_metrics(out_dir) -> list[dict]:
    return [json.loads(line) for line in (out_dir / METRICS_FILE).read_text().splitlines()]


@pytest.fixture(scope="module", autouse=True)
def tiny_llm_once():
    """Every `PalmE` in this module gets a fresh copy of one loaded tiny LLM: reading the
    Gemma tokenizer takes seconds, and LoRA changes the LLM it is given, so no sharing."""
    from embodied_mm.model import palme
    from embodied_mm.model.llm import load_llm

    model, tokenizer = load_llm("tiny")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(palme, "load_llm", lambda name, dtype: (copy.deepcopy(model), tokenizer))
        yield


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    # LoRA on attention only, so a warm start can add the MLPs' (test below)
    attention_only = "model.lora_targets=[q_proj,k_proj,v_proj,o_proj]"
    return out, train(config(out, "model.lora=true", attention_only, "train.lr=0.03"),
                      progress=False, data=data())


def test_loss_decreases_and_outputs_are_written(trained):
    out, final = trained
    rows = read_metrics(out)
    assert [r["step"] for r in rows] == [20, 40]
    assert rows[1]["loss"] < 0.7 * rows[0]["loss"], rows
    naming_objects = sum(s.target != "done()" for s in data()[1])
    for row in rows:
        assert row["n_eval"] == 12 and row["n_object"] == naming_objects < 12
        assert 0 <= row["accuracy"] <= 1 and 0 <= row["object_accuracy"] <= 1
        assert 0 <= row["false_cannot_rate"] <= 1
        assert row["samples_per_s"] > 0 and row["wall_s"] > 0
    assert final == out / "final"
    for directory in (out / "last", final):
        assert {"model.safetensors", "config.json"} <= {p.name for p in directory.iterdir()}
    assert torch.load(out / "last" / "train_state.pt", weights_only=True)["step"] == 40
    card = (final / "model_card.md").read_text()
    assert "| 40 |" in card and "false `cannot()`" in card
    assert "LoRA r=8" in card and "state, robot" in card


def test_final_checkpoint_loads_in_the_planner_and_plans_valid_steps(trained):
    _, final = trained
    planner = PalmePlanner.from_config(PlannerConfig(name="palme", checkpoint=str(final)))
    rng = np.random.default_rng(5)
    for n in (2, 4):
        obs = observation(rng, list(COLORS[:n]))
        planner.reset("pick up the blue block")
        assert parse_step(planner.next_step(obs, []), obs.object_names)


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path, monkeypatch):
    """Killed after a checkpoint and resumed: same weights, metrics as without the kill (LoRA
    dropout makes the restored RNG state matter too)."""
    every = ("train.steps=12", "train.eval_every=4", "train.checkpoint_every=4", "model.lora=true",
             "model.lora_dropout=0.1")
    whole = train(config(tmp_path / "whole", *every), progress=False, data=data())
    save = train_module.save_checkpoint

    def save_then_die(path, model, state=None):
        save(path, model, state)
        if state is not None and state["step"] == 8:
            raise KeyboardInterrupt  # killed right after the step-8 checkpoint

    cut = tmp_path / "cut"
    cfg = config(cut, *every)
    monkeypatch.setattr(train_module, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, progress=False, data=data())
    monkeypatch.setattr(train_module, "save_checkpoint", save)
    resumed = train(cfg, progress=False, data=data())
    expected, got = load_file(whole / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert expected.keys() == got.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=0)
    drop = ("wall_s", "samples_per_s")
    strip = lambda rows: [{k: v for k, v in r.items() if k not in drop} for r in rows]
    assert strip(read_metrics(cut)) == strip(read_metrics(tmp_path / "whole"))


@pytest.mark.parametrize("override, key", [("model.inputs=[state,objects]", "model.inputs"),
                                           ("train.eval_every=0", "train.eval_every"),
                                           ("model.dtype=float33", "model.dtype")])
def test_bad_config_names_the_key(tmp_path, override, key):
    with pytest.raises(ConfigError, match=key):
        train(config(tmp_path, override), progress=False, data=data())
    assert not (tmp_path / "final").exists()


def write_dataset(root) -> None:
    """A `gen-data`-format dataset (shards + index.json) of `samples`, plus VQA in train."""
    from embodied_mm.data.shards import FORMAT, ShardWriter, pack_scene

    splits = {"train": samples(16, seed=0, template=TEMPLATES[0], images=True),
              "val": samples(6, seed=1, template=TEMPLATES[1], images=True)}
    index = {"format": FORMAT, "command": "embodied-mm gen-data (test)", "splits": {}}
    for split, items in splits.items():
        writer = ShardWriter(root, split, shard_size=5)
        records = [{"kind": "plan", "scene": i, "instruction": s.instruction, "done": s.done,
                    "target": s.target, "task": "pick_place"} for i, s in enumerate(items)]
        if split == "train":
            records += [{**r, "kind": "vqa", "instruction": "what color is obj_1?",
                         "done": [], "target": "red"} for r in records[:4]]
        writer.add([pack_scene(s.scene) for s in items], records)
        writer.close()
        index["splits"][split] = {"shards": writer.shards, "episodes": len(items),
                                  "plan": len(items), "vqa": 4 if split == "train" else 0}
    (root / "index.json").write_text(json.dumps(index))


def test_trains_from_a_gen_data_directory(tmp_path):
    """The default data path: `train.data_dir`'s train split (plan + VQA) and val split."""
    write_dataset(tmp_path)
    cfg = config(tmp_path / "out", f"train.data_dir={tmp_path}", *CAMERA_ONLY,
                 "model.image_size=32", "train.steps=4", "train.eval_every=2",
                 "train.batch_size=4")
    final = train(cfg, progress=False)
    rows = read_metrics(tmp_path / "out")
    assert [r["step"] for r in rows] == [2, 4] and rows[-1]["n_eval"] == 6
    card = (final / "model_card.md").read_text()
    assert "| train | 16 | 16 | 4 |" in card and "train samples: 20" in card


def test_scene_questions_join_the_training_set_and_bad_types_are_named(tmp_path):
    """`train.scene_questions=F` adds F questions per stored sample to what training draws."""
    write_dataset(tmp_path)
    common = (f"train.data_dir={tmp_path}", *CAMERA_ONLY, "model.image_size=32",
              "train.steps=2", "train.eval_every=2", "train.batch_size=4",
              "train.scene_questions=0.5")
    final = train(config(tmp_path / "out", *common), progress=False)
    assert "train samples: 30" in (final / "model_card.md").read_text()  # 20 stored + 10
    with pytest.raises(ConfigError, match="question types must be some of"):
        train(config(tmp_path / "bad", *common, "train.question_types=[in]"), progress=False)


def test_trains_on_several_datasets_together(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    write_dataset(first)
    write_dataset(second)
    cfg = config(tmp_path / "out", f"train.data_dir={first}", f"train.extra_data_dirs=[{second}]",
                 *CAMERA_ONLY, "model.image_size=32", "train.steps=2",
                 "train.eval_every=2", "train.batch_size=4")
    final = train(cfg, progress=False)
    assert read_metrics(tmp_path / "out")[-1]["n_eval"] == 12  # both val splits
    card = (final / "model_card.md").read_text()
    assert "train samples: 40" in card and card.count("| train | 16 | 16 | 4 |") == 2


def test_kind_weights_repeat_plan_or_vqa_samples(tmp_path):
    write_dataset(tmp_path)
    train_set, _ = load_splits(tmp_path)
    kinds = [train_set[i].kind for i in range(len(train_set))]
    weighted = weight_tasks(train_set, {}, {"plan": 3})
    assert len(weighted) == 3 * kinds.count("plan") + kinds.count("vqa")
    with pytest.raises(ConfigError, match="train.kind_weights"):
        config(tmp_path / "out", "train.kind_weights={plan:-1}")


def test_datasets_are_generated_when_missing_and_bad_keys_named(tmp_path, monkeypatch):
    made = []
    monkeypatch.setattr("embodied_mm.data.generate.generate",
                        lambda cfg, progress: made.append(cfg.data) or write_dataset(
                            Path(cfg.data.out_dir)))
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    write_dataset(tmp_path / "a")  # exists: not generated again
    cfg = config(tmp_path / "out", f"train.datasets=[{{out_dir: {tmp_path / 'a'}}},"
                 f"{{out_dir: {tmp_path / 'b'}, seed: 7}}]")
    prepared = train_module.prepare_datasets(cfg, progress=False)
    assert [d.out_dir for d in made] == [str(tmp_path / "b")] and made[0].seed == 7
    assert prepared.train.data_dir == str(tmp_path / "a")
    assert prepared.train.extra_data_dirs == [str(tmp_path / "b")]
    with pytest.raises(ConfigError, match="train.datasets\\[0\\]: unknown data key"):
        train_module.prepare_datasets(config(tmp_path / "out", "train.datasets=[{fly: 1}]"))


def test_task_weights_repeat_a_family_and_name_unknown_ones(tmp_path):
    write_dataset(tmp_path)
    train_set, _ = load_splits(tmp_path, kinds=("plan",))
    assert len(weight_tasks(train_set, {"pick_place": 3})) == 3 * len(train_set)
    assert weight_tasks(train_set, {"pick_place": 1, "stack": 1}) is train_set
    with pytest.raises(ValueError, match="no training samples of stack"):
        weight_tasks(train_set, {"stack": 2})
    with pytest.raises(ValueError, match="leave no training samples"):
        weight_tasks(train_set, {"pick_place": 0})
    assert config(tmp_path, "train.task_weights={stack:2}").train.task_weights["stack"] == 2
    with pytest.raises(ConfigError, match="train.task_weights.juggle"):
        config(tmp_path, "train.task_weights={juggle:2}")
    with pytest.raises(ConfigError, match="task_weights must be integers >= 0"):
        config(tmp_path / "out", "train.task_weights={pick_place:-1}")


def test_warm_start_copies_what_fits_and_lists_the_new_tensors(trained, tmp_path, capsys):
    out, _ = trained
    cfg = config(tmp_path / "warm", f"train.init_from={out / 'final'}", "model.lora=true",
                 "model.lora_targets=[q_proj,k_proj,v_proj,o_proj,up_proj]",
                 "train.steps=2", "train.eval_every=2")
    final = train(cfg, progress=False, data=data())
    printed = capsys.readouterr().out
    assert f"warm start from {out / 'final'}" in printed
    assert "layers.*.mlp.up_proj.lora_A (×" in printed  # new LoRA, folded by layer
    assert "q_proj" not in printed  # copied from the checkpoint
    assert (final / "model.safetensors").is_file()


def test_init_mix_ends_with_the_average_of_the_start_and_the_fine_tune(trained, tmp_path):
    from safetensors.torch import load_file

    out, _ = trained
    start = out / "final"
    cfg = config(tmp_path / "mix", f"train.init_from={start}", "train.init_mix=0.5",
                 "train.steps=2", "train.eval_every=2", "train.checkpoint_every=2")
    final = train(cfg, progress=False, data=data())
    tuned = load_file(tmp_path / "mix" / "last" / "model.safetensors")  # before the mix
    begin, mixed = load_file(start / "model.safetensors"), load_file(final / "model.safetensors")
    assert mixed.keys() == tuned.keys() and begin.keys() <= mixed.keys()
    assert any(not torch.equal(tuned[k], begin[k]) for k in begin)  # it did train
    for name in mixed:  # what the start lacks (here: LoRA on more layers) stays as trained
        expected = 0.5 * tuned[name] + 0.5 * begin[name] if name in begin else tuned[name]
        torch.testing.assert_close(mixed[name], expected, msg=name)
    card = (final / "model_card.md").read_text()
    assert "train.init_mix" in card and "before the `train.init_mix` average" in card


def test_resume_refuses_a_checkpoint_of_another_model(trained):
    out, _ = trained
    cfg = config(out, "model.encoder_width=16")
    with pytest.raises(ConfigError, match="train.resume.*encoder_width"):
        train(cfg, progress=False, data=data())


def test_missing_dataset_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="gen-data"):
        train(config(tmp_path / "out", f"train.data_dir={tmp_path / 'none'}"), progress=False)


def test_batch_order_resumes_and_shards():
    order = BatchOrder(10, batch_size=3, seed=0)
    first = [b for _, b in zip(range(9), order.batches_from(0))]
    assert [b for _, b in zip(range(4), order.batches_from(5))] == first[5:9]
    assert sorted(sum(first[:3], [])) != sorted(range(10))  # 3 batches of 3: one dropped
    assert first[:3] != first[3:6]  # a new shuffle each epoch
    shards = [next(BatchOrder(10, 5, seed=0, rank=r, world_size=2).batches_from(0))
              for r in (0, 1)]
    assert sorted(shards[0] + shards[1]) == list(range(10))


def test_heldout_metrics_parts():
    assert object_args("push(obj_3, left)") == ("obj_3",)
    assert object_args("done()") == ()
    plan = data()[1]
    val = plan[:6] + [Sample(plan[0].scene, "what color is obj_1?", (), "red", "vqa")] + plan[6:]
    assert heldout_samples(val, limit=100) == plan  # the VQA answer is not a plan step
    assert heldout_samples(val, limit=3) == [plan[0], plan[-1]]  # spread; VQA dropped


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, out_dir: str, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2",
                      RANK=str(rank), LOCAL_RANK=str(rank))
    cfg = config(out_dir, "train.steps=4", "train.eval_every=2", "train.checkpoint_every=2",
                 "train.batch_size=4")
    train(cfg, progress=False, data=data())
    with open(os.path.join(out_dir, f"rank{rank}.done"), "w") as f:
        f.write("ok")


@pytest.mark.slow
def test_ddp_two_processes(tmp_path):
    torch.multiprocessing.spawn(_ddp_worker, args=(str(tmp_path), _free_port()), nprocs=2)
    assert (tmp_path / "rank0.done").is_file() and (tmp_path / "rank1.done").is_file()
    state = torch.load(tmp_path / "last" / "train_state.pt", weights_only=True)
    assert state["step"] == 4 and state["world_size"] == 2 and len(state["rng"]) == 2
    assert state["samples"] == 4 * 4 * 2  # steps × batch × processes
    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows] == [2, 4] and rows[-1]["n_eval"] == 12
    assert (tmp_path / "final" / "model.safetensors").is_file()


@pytest.mark.sim
def test_final_closed_loop_eval_goes_into_the_card(tmp_path, monkeypatch):
    from embodied_mm import tasks

    families = ("pick_place", "infeasible")  # absent-reference episodes are `infeasible` ones
    monkeypatch.setattr(tasks, "TASKS", {name: tasks.TASKS[name] for name in families})
    cfg = config(tmp_path, "train.steps=2", "train.final_eval_episodes=1", "planner.max_steps=2")
    final = train(cfg, progress=False, data=data())
    card = (final / "model_card.md").read_text()
    for name in ("trained_language", "held_out_language", "absent_reference"):
        info = json.loads((tmp_path / "final_eval" / name / "eval_info.json").read_text())
        assert info["planner"] == "palme" and info["overall"]["n_episodes"] == 2
        assert {row["seed"] for row in info["per_episode"]} == {1000}
        assert all(parse_step(step) for row in info["per_episode"] for step in row["steps"])
    absent = json.loads((tmp_path / "final_eval" / "absent_reference" / "eval_info.json")
                        .read_text())
    assert not any(row["feasible"] for row in absent["per_episode"])
    vqa = json.loads((tmp_path / "final_eval" / "vqa" / "vqa_info.json").read_text())
    assert vqa["overall"]["n_questions"] == 2 * 11
    assert "## Evaluation (closed loop in the sim)" in card and "task.absent=mixed" in card
    assert "| task family | trained language | held-out language | held-out, +2 objects | " \
        "absent reference | faults |" in card and "| **overall** |" in card


@pytest.mark.skipif(torch.cuda.is_available(), reason="bf16 always pays off on a GPU")
@pytest.mark.parametrize("autocast, native, expected", [
    ("auto", True, True), ("auto", False, False), ("bf16", False, True), ("none", True, False)])
def test_autocast_auto_trains_in_bf16_only_where_the_cpu_computes_it_natively(
        tmp_path, monkeypatch, autocast, native, expected):
    from embodied_mm.model import language_model
    from embodied_mm.model.config import PalmEConfig
    from embodied_mm.model.palme import PalmE
    from embodied_mm.training.distributed import Dist
    from embodied_mm.training.trainer import Trainer

    monkeypatch.setattr(language_model, "native_bf16", lambda: native)
    trainer = Trainer(config(tmp_path, f"train.autocast={autocast}"),
                      PalmE(PalmEConfig(llm="tiny")), Dist())
    assert trainer.bf16 is expected


def test_keep_best_ships_the_weights_of_the_best_held_out_evaluation(tmp_path):
    out = tmp_path / "best"
    cfg = config(out, "train.keep=best", "train.eval_every=10", "train.checkpoint_every=10")
    final = train(cfg, progress=False, data=data())
    rows = read_metrics(out)
    scores = [selection_score(r) for r in rows]
    best = rows[scores.index(max(scores))]
    weights = load_file(final / "model.safetensors")
    kept = load_file(out / "best" / "model.safetensors")
    assert all(torch.equal(weights[k], kept[k]) for k in weights)
    if best is not rows[-1]:  # an earlier evaluation won: final/ is not the last step
        last = load_file(out / "last" / "model.safetensors")
        assert any(not torch.equal(weights[k], last[k]) for k in weights)
    card = (final / "model_card.md").read_text()
    assert f"kept weights: step {best['step']}'s" in card


def test_selection_score_charges_refusals_like_wrong_steps():
    assert selection_score({"accuracy": 0.9, "false_cannot_rate": 0.1}) == pytest.approx(0.8)
    assert selection_score({"accuracy": 0.8, "false_cannot_rate": None}) == 0.8
    assert selection_score({"accuracy": None}) is None
    # an absent reference acted on costs as much as a wrong step
    assert selection_score({"accuracy": 0.9, "false_cannot_rate": 0.1,
                            "absent_refusal_rate": 0.75}) == pytest.approx(0.55)
    with pytest.raises(ConfigError, match="train.keep"):
        load_config(["train.keep=first"])
