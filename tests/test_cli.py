"""The command line as a user meets it: output of `run`, and one-line errors for bad input."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from embodied_mm.cli import main
from embodied_mm.config import load_config
from embodied_mm.run import run


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "embodied_mm.cli", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})


@pytest.mark.sim
def test_run_prints_instruction_steps_outcomes_and_is_reproducible():
    lines_a, lines_b = [], []
    report_a = run(load_config(["task=stack", "seed=3"]), echo=lines_a.append)
    report_b = run(load_config(["task=stack", "seed=3"]), echo=lines_b.append)
    assert report_a.success
    same = lambda r: {k: v for k, v in r.to_dict().items() if k != "planner_latency_ms"}
    assert same(report_a) == same(report_b)
    text = "\n".join(lines_a)
    assert "instruction: " in text and "objects: obj_1" in text
    assert "pick(obj_" in text and "succeeded" in text and "done()" in text
    assert lines_a[-1].startswith("result: SUCCESS")
    # Apart from wall-clock planner timings, the two printouts are identical.
    strip = lambda lines: [line.split(" (")[0] for line in lines]
    assert strip(lines_a) == strip(lines_b)


@pytest.mark.parametrize("args, message", [
    (["run", "task=nope"], "unknown task 'nope'; choose one of: all, infeasible"),
    (["run", "nope=1"], "unknown config key 'nope'"),
    (["run", "task=stack", "instruction="], "instruction is empty"),
    (["run", "task=stack", "instruction=" + "stack " * 2000], "12,000 characters long"),
    (["eval", "eval.suite=/no/such/file.yaml"], "no such file"),
])
def test_config_errors_are_one_line_without_traceback(args, message):
    proc = _cli(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.sim
@pytest.mark.parametrize("steps, message", [
    ("pick(obj_9)", "no object obj_9 in the scene"),
    ("fly(obj_1)", "unknown step 'fly'"),
])
def test_bad_plan_text_is_refused_and_nothing_moves(steps, message, capsys):
    code = main(["run", "task=stack", "seed=1", "planner=script", f"planner.steps={steps}"])
    captured = capsys.readouterr()
    assert code == 2
    assert message in captured.err and "the robot did not move" in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.sim
def test_custom_instruction_with_oracle_is_a_clear_error(capsys):
    code = main(["run", "task=stack", "instruction=juggle the blocks"])
    assert code == 2
    assert "oracle plans only its task's own instruction" in capsys.readouterr().err


def test_help_lists_commands():
    proc = _cli("--help")
    assert proc.returncode == 0
    for command in ("demo", "run", "eval"):
        assert command in proc.stdout
