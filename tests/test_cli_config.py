"""`--cfg`, `--help` and `-v`/`-q` of the Hydra commands, and the demo's default planner."""

from __future__ import annotations

import logging

import pytest
import yaml

from embodied_mm.cli import main
from embodied_mm.config import load_config
from embodied_mm.config.describe import composed_yaml, group_keys, group_options
from embodied_mm.logs import configure_logging


@pytest.fixture(autouse=True)
def _package_log_level():
    yield
    logging.getLogger("embodied_mm").setLevel(logging.NOTSET)


def test_cfg_prints_the_composed_configuration(capsys):
    assert main(["run", "task=stack", "seed=3", "planner.max_steps=7", "--cfg"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    expected = yaml.safe_load(composed_yaml(load_config(["task=stack", "seed=3",
                                                         "planner.max_steps=7"])))
    assert printed == expected
    assert printed["task"]["name"] == "stack" and printed["seed"] == 3
    assert printed["planner"]["max_steps"] == 7


@pytest.mark.parametrize("args, planner", [(["demo"], "palme"),
                                           (["demo", "planner=oracle"], "oracle"),
                                           (["run"], "oracle")])
def test_demo_defaults_to_the_palme_planner_and_the_user_overrides_it(args, planner, capsys):
    assert main([*args, "--cfg"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["planner"]["name"] == planner


def test_help_lists_config_groups_options_and_keys(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--cfg", "--verbose", "--quiet"):
        assert flag in text
    options = group_options()
    assert "stack" in options["task"] and "palme" in options["planner"]
    for group, keys in group_keys().items():
        assert f"  {group}: " in text
        for option in options.get(group, []):
            assert option in text
        for key in keys:
            assert key in text, (group, key)


@pytest.mark.parametrize("verbose, quiet, level", [(0, 0, logging.INFO),
                                                   (1, 0, logging.DEBUG),
                                                   (0, 1, logging.WARNING),
                                                   (0, 2, logging.ERROR)])
def test_verbosity_flags_set_the_package_log_level(verbose, quiet, level):
    assert configure_logging(verbose, quiet) == level
    assert logging.getLogger("embodied_mm").level == level


def test_verbosity_flags_reach_the_package_logger(capsys):
    assert main(["run", "-q", "--cfg"]) == 0
    assert logging.getLogger("embodied_mm").level == logging.WARNING
    assert main(["run", "-v", "--cfg"]) == 0
    assert logging.getLogger("embodied_mm").level == logging.DEBUG
