"""The probe's command lines: each a one-line error and exit 2 before anything runs; suite files
with bad entries are refused naming the entry."""

from __future__ import annotations

import importlib

import pytest

from embodied_mm.cli import COMMANDS
from embodied_mm.cli import main as cli
from embodied_mm.config import ConfigError
from embodied_mm.eval.suite import load_suite


@pytest.mark.parametrize("argv, message", [
    (["run", "seed=-5"], "seed must be in 0..4294967295, got -5"),
    (["run", "seed=4294967296"], "seed must be in 0..4294967295"),
    (["eval", "eval.out_dir=/dev/null/x"], "eval.out_dir=/dev/null/x: cannot create it"),
    (["eval", "eval.seed=-1"], "eval.seed must be in"),
    (["gen-data", "data.image_size=0"], "data.image_size must be >= 16, got 0"),
    (["gen-data", "data.out_dir=/dev/null/d"], "data.out_dir=/dev/null/d: cannot create it"),
    (["train", "train.seed=-3"], "train.seed must be in"),
])
def test_bad_arguments_fail_before_the_command_runs(argv, message, capsys, monkeypatch):
    module = importlib.import_module(COMMANDS[argv[0]][0])
    monkeypatch.setattr(module, "main", lambda *a: pytest.fail(f"{argv[0]} ran"))
    assert cli(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("embodied-mm: error: ") and message in err


def test_good_output_folders_are_created(tmp_path, monkeypatch):
    module = importlib.import_module(COMMANDS["eval"][0])
    monkeypatch.setattr(module, "main", lambda cfg: 0)
    assert cli(["eval", f"eval.out_dir={tmp_path}/a/b"]) == 0
    assert (tmp_path / "a" / "b").is_dir()


TASKS = {"stack": None, "pick_place": None}


@pytest.mark.parametrize("text, message", [
    ("- {task: stack, seed: -5}", "seed must be an integer in 0..4294967295"),
    ("- {task: stack, seed: 99999999999999999999999}", "seed must be an integer"),
    ("- {task: stack, seed: true}", "seed must be an integer"),
    ("- {task: stack, seed: 1, n_distractors: 100000}", "n_distractors must be an integer in"),
    ("- {task: stack, seed: 1, instruction: [a, b]}", "instruction must be text"),
    ("- {task: stack, seed: 1, instruction: " + "x" * 600 + "}", "longer than 500"),
    ("- {task: stack, seed: 1, template_id: x}", "template_id must be an integer"),
    ("[" * 20_000 + "]" * 20_000, "nested too deeply"),
    ("&a [*a]", "episode 1: expected a mapping"),
])
def test_bad_suite_entries_are_refused(tmp_path, text, message):
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_suite(path, TASKS)


def test_a_suite_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_bytes(b"- {task: stack, seed: 1, instruction: \xff}")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_suite(path, TASKS)


@pytest.mark.parametrize("text", ["- task: []\n  seed: 1", "- {1: x, task: stack, seed: 1}"])
def test_odd_keys_and_task_types_are_config_errors(tmp_path, text):
    """Found by the fuzz test: an unhashable task and mixed-type keys were TypeErrors."""
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError):
        load_suite(path, TASKS)
