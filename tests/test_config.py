"""Config loading: overrides compose, and every kind of bad key/value is named in one line."""

from __future__ import annotations

import pytest

from embodied_mm.config import ConfigError, load_config


def test_defaults_and_overrides():
    cfg = load_config(["task=tower", "seed=4", "eval.episodes=3", "task.n_distractors=2"])
    assert (cfg.task.name, cfg.seed, cfg.eval.episodes, cfg.task.n_distractors) == \
        ("tower", 4, 3, 2)
    assert load_config([]).planner.name == "oracle"


def test_free_text_needs_no_hydra_quoting():
    cfg = load_config(["instruction=put the red, green and blue blocks (all) in the bowl's rim"])
    assert cfg.instruction == "put the red, green and blue blocks (all) in the bowl's rim"
    cfg = load_config(["planner=script", "planner.steps=pick(obj_1); place(obj_2)"])
    assert cfg.planner.steps == "pick(obj_1); place(obj_2)"


@pytest.mark.parametrize("overrides, message", [
    (["task=nope"], "unknown task 'nope'; choose one of: all, infeasible"),
    (["planner=nope"], "unknown planner 'nope'"),
    (["bogus=1"], "unknown config key 'bogus'"),
    (["task.bogus=1"], "unknown config key 'task.bogus'"),
    (["eval.episodes=many"], "bad value for eval.episodes"),
    (["eval.episodes=0"], "eval.episodes must be >= 1"),
    (["task.n_distractors=-1"], "task.n_distractors must be >= 0"),
    (["robot.control_hz=7"], "robot.control_hz must divide 240"),
    (["train.autocast=fp16"], "train.autocast must be auto, bf16 or none"),
    (["train.init_mix=1"], "train.init_mix must be >= 0 and < 1"),
    (["train.init_mix=0.5"], "train.init_mix needs train.init_from"),
    (["instruction="], "instruction is empty"),
    (["seed"], "expected key=value"),
])
def test_bad_config_is_named(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_config(overrides)


def test_the_default_training_configuration_builds_the_shipped_checkpoints_model():
    """`embodied-mm train` with no model overrides trains the layout that ships: its config
    equals the shipped checkpoint's `config.json` key for key."""
    import dataclasses
    import json

    from embodied_mm.paths import share_dir
    from embodied_mm.train import model_config

    shipped = json.loads((share_dir() / "checkpoints" / "palme-gemma270m" / "config.json")
                         .read_text())["config"]
    default = json.loads(json.dumps(dataclasses.asdict(model_config(load_config([])))))
    assert default == shipped
