"""`embodied-mm gen-data`: shards, index and card agree; the held-out language side stays out
of training; targets are the oracle's steps; the dataset feeds `PalmE`; workers don't matter."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from embodied_mm.config import ConfigError, load_config
from embodied_mm.data.dataset import PlanDataset
from embodied_mm.data.generate import episode_specs, generate
from embodied_mm.data.shards import load_shard, pack_scene, unpack_scene
from embodied_mm.data.vqa import parse_question
from embodied_mm.eval.rollout import EpisodeRunner, EpisodeSpec
from embodied_mm.model.features import extract
from embodied_mm.model.palme import collate_samples
from embodied_mm.plan_language import parse_step
from embodied_mm.planner.oracle import OraclePlanner
from embodied_mm.tasks import TASKS
from embodied_mm.types import ObjectState, Observation

ARGS = ["data.episodes_per_task=2", "data.val_episodes_per_task=1", "data.shard_size=3",
        "data.vqa_per_step=2", "data.image_size=32"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    return generate(load_config([*ARGS, f"data.out_dir={out}"]), progress=False)


def shard_samples(data_dir, split):
    index = json.loads((data_dir / "index.json").read_text())
    return [s for name in index["splits"][split]["shards"]
            for s in load_shard(data_dir / name)["samples"]]


def test_episode_specs_depend_only_on_family_and_seed():
    small = episode_specs(load_config(ARGS).data)
    large = episode_specs(load_config(["data.episodes_per_task=5", *ARGS[1:]]).data)
    assert {spec for _, spec in small} <= {spec for _, spec in large}
    assert all(0 <= spec.n_distractors <= 2 for _, spec in large)
    assert {spec.seed for split, spec in large if split == "val"} == {100_000}


def test_data_tasks_selects_families():
    specs = episode_specs(load_config([*ARGS, "data.tasks=[infeasible,stack]"]).data)
    assert {spec.task for _, spec in specs} == {"infeasible", "stack"}
    with pytest.raises(ConfigError, match="data.tasks: unknown task families \\['fly'\\]"):
        episode_specs(load_config([*ARGS, "data.tasks=[fly]"]).data)


@pytest.mark.sim
def test_shards_index_and_card_agree(data_dir):
    index = json.loads((data_dir / "index.json").read_text())
    card = (data_dir / "README.md").read_text()
    assert "embodied-mm gen-data" in card and "data.shard_size=3" in index["command"]
    for split, counts in index["splits"].items():
        samples = shard_samples(data_dir, split)
        sizes = [len(load_shard(data_dir / n)["samples"]) for n in counts["shards"]]
        assert sizes[:-1] == [3] * (len(sizes) - 1) and 1 <= sizes[-1] <= 3
        assert len(counts["shards"]) == math.ceil(counts["samples"] / 3)
        assert counts["samples"] == len(samples) == counts["plan"] + counts["vqa"]
        assert counts["vqa"] == 2 * counts["plan"]
        assert set(counts["per_task"]) == set(TASKS)
        for task, row in counts["per_task"].items():
            assert row["plan"] == sum(s["kind"] == "plan" and s["task"] == task for s in samples)
            assert row["episodes"] + row["failed"] == (2 if split == "train" else 1)
            assert f"| {task} |" in card
        assert f"| {split} | {counts['episodes']} | {counts['failed']} | {counts['plan']} |" \
            in card
    assert index["language"] == {"train": "train", "val": "heldout"}
    assert "held-out side" in card


@pytest.mark.sim
def test_held_out_language_only_in_val_and_plan_samples_keep_their_goal(data_dir):
    for split, side in (("train", "train"), ("val", "heldout")):
        for s in shard_samples(data_dir, split):
            assert s["language"] == side
            if s["kind"] == "plan":
                episode = TASKS[s["task"]].sample(s["seed"], s["n_distractors"], language=side)
                assert s["instruction"] == episode.instruction
                assert s["words"] == episode.words and s["words"]["frame"]


@pytest.mark.sim
def test_targets_are_the_oracle_steps(data_dir):
    samples = shard_samples(data_dir, "train") + shard_samples(data_dir, "val")
    for s in samples:
        names = [f"obj_{i + 1}" for i in range(len(TASKS[s["task"]].sample(
            s["seed"], s["n_distractors"]).scene))]
        if s["kind"] == "plan":
            parse_step(s["target"], names)
        else:
            question = parse_question(s["instruction"], names)
            assert str(question) == s["instruction"] and s["target"] in question.answers
    with EpisodeRunner(OraclePlanner()) as runner:
        for task in ("tower", "sort_by_color", "infeasible"):
            plan = [s for s in samples if s["task"] == task and s["kind"] == "plan"
                    and s["seed"] == 1]
            spec = EpisodeSpec(task, 1, None, plan[0]["n_distractors"],
                               language=plan[0]["language"])
            report = runner.run(spec)
            assert [s["target"] for s in plan] == report.steps
            for s in plan:
                assert s["done"] == [o["step"] for o in report.skill_outcomes[:s["step"]]
                                     if o["status"] == "succeeded"]


def test_scene_packing_round_trips():
    rng = np.random.default_rng(0)
    segmentation = np.full((240, 320), -1, np.int32)
    segmentation[100:130, 40:52] = 7
    segmentation[0:9, 300:320] = 8
    objects = [ObjectState(f"obj_{i + 1}", "block", "red", rng.uniform(0.1, 0.5, 3),
                           np.array([0, 0, 0, 1.0]), np.full(3, 0.04), mask_id=mask_id)
               for i, mask_id in enumerate((7, 8, None))]
    obs = Observation(rng.normal(size=7), 0.04, rng.normal(size=7), objects,
                      rgb=rng.integers(0, 256, (240, 320, 3), dtype=np.uint8),
                      segmentation=segmentation)
    scene = extract(obs, images=True, image_size=48)
    back = unpack_scene(pack_scene(scene))
    np.testing.assert_array_equal(back.objects, scene.objects)
    np.testing.assert_array_equal(back.centroids, scene.centroids)
    np.testing.assert_allclose(back.masks, scene.masks, atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(back.image, scene.image, atol=0.5 / 255 + 1e-6)
    assert back.image.dtype == back.masks.dtype == np.float32
    assert back.object_names == ("obj_1", "obj_2", "obj_3")
    obs.objects = [objects[0], objects[2]]  # obj_2 removed by a fault: the others keep names
    assert unpack_scene(pack_scene(extract(obs, images=True, image_size=48))).object_names == (
        "obj_1", "obj_3")


@pytest.mark.sim
def test_perturbed_rollouts_record_recovery_samples(tmp_path):
    """`data.perturb=remove`: every episode loses a loose block mid-episode; samples after it
    name only the objects that are left, with their own names, and the oracle's recovery."""
    out = generate(load_config([*ARGS, "data.perturb=remove", "data.tasks=[pick_place,stack]",
                                "data.episodes_per_task=3", f"data.out_dir={tmp_path}"]),
                   progress=False)
    dataset = PlanDataset(out, "train", kinds=("plan",))
    gapped = [s for s in dataset if s.scene.object_names != tuple(
        f"obj_{k}" for k in range(1, s.scene.n_objects + 1))]
    assert gapped, "no sample was recorded after a removal"
    for sample in gapped:
        assert parse_step(sample.target, sample.scene.object_names)
    assert any(s.target == "cannot()" for s in dataset)  # a goal block was taken away


@pytest.mark.sim
def test_dataset_feeds_palme(data_dir, tiny_palme):
    index = json.loads((data_dir / "index.json").read_text())
    full, plan = PlanDataset(data_dir, "train"), PlanDataset(data_dir, "train", kinds=("plan",))
    assert len(full) == index["splits"]["train"]["samples"]
    assert len(plan) == index["splits"]["train"]["plan"]
    assert plan.per_task == {t: r["plan"] for t, r in index["splits"]["train"]["per_task"].items()}
    assert len(PlanDataset(data_dir, "val", kinds=("vqa",))) == index["splits"]["val"]["vqa"]
    batch = collate_samples([full[i] for i in range(6)])
    assert batch["kind"] == ["plan", "vqa", "vqa", "plan", "vqa", "vqa"]
    assert batch["image"].shape == (6, 3, 32, 32) and batch["image"].dtype == torch.float32
    with pytest.raises(ValueError, match="split"):
        PlanDataset(data_dir, "test")
    with torch.no_grad():
        assert torch.isfinite(tiny_palme(batch))


@pytest.mark.sim
@pytest.mark.slow
def test_two_workers_give_the_same_dataset(data_dir, tmp_path):
    two = generate(load_config([*ARGS, f"data.out_dir={tmp_path}", "data.workers=2"]),
                   progress=False)
    one_index, two_index = (json.loads((d / "index.json").read_text()) for d in (data_dir, two))
    assert one_index["splits"] == two_index["splits"]
    for name in (n for c in one_index["splits"].values() for n in c["shards"]):
        a, b = load_shard(data_dir / name), load_shard(two / name)
        assert a["samples"] == b["samples"]
        for sa, sb in zip(a["scenes"], b["scenes"], strict=True):
            assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.sim
def test_learned_object_masks_cover_the_same_objects_as_the_sims(data_dir, tmp_path):
    """`data.object_masks=learned`: the same episodes, each object's mask now the learned
    perception's on the rendered frame; on these plain sim frames it overlaps the sim's own
    mask of that object (IoU of the pooled masks), and the state rows are unchanged."""
    args = [*ARGS, "data.tasks=[sort_by_color]", "data.vqa_per_step=0"]
    sim = generate(load_config([*args, f"data.out_dir={tmp_path / 'sim'}"]), progress=False)
    learned = generate(load_config([*args, "data.object_masks=learned",
                                    f"data.out_dir={tmp_path / 'learned'}"]), progress=False)
    assert "data.object_masks=learned" in (learned / "README.md").read_text()
    a, b = (PlanDataset(d, "train", kinds=("plan",)) for d in (sim, learned))
    assert len(a) == len(b) > 0
    ious = []
    for x, y in zip(a, b):
        assert x.target == y.target
        np.testing.assert_array_equal(x.scene.objects, y.scene.objects)
        for m, n in zip(x.scene.masks, y.scene.masks):
            if m.sum() > 0:
                both, either = np.minimum(m, n).sum(), np.maximum(m, n).sum()
                ious.append(both / either)
    assert len(ious) >= 10 and np.median(ious) > 0.6, ious
    with pytest.raises(ConfigError, match="object_masks"):
        load_config(["data.object_masks=segment_anything"])
