"""Hostile launch files end in one-line errors, fast and in little memory: alias bombs, recursive
aliases, deep nesting, include chains and include fan-out."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest

from embodied_mm.launch_runner.cli import main
from embodied_mm.launch_runner.description import MAX_DEPTH, MAX_NODES
from embodied_mm.launch_runner.model import LaunchError
from embodied_mm.launch_runner.resolve import MAX_ENTITIES, MAX_INCLUDE_DEPTH, resolve_launch


def alias_bomb(levels: int) -> str:
    """Each level's group holds the previous level twice: 2**levels tags from ~90 B a level."""
    lines = ["launch:", "- group:", "    children: &a0", "    - let: {name: x, value: y}"]
    for i in range(1, levels + 1):
        lines += ["- group:", f"    children: &a{i}", f"    - group: {{children: *a{i - 1}}}",
                  f"    - group: {{children: *a{i - 1}}}"]
    return "\n".join(lines) + "\n"


def _run(path: Path) -> tuple[str, float, int]:
    """(error, seconds, peak RSS growth in kB) of resolving `path`."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(LaunchError) as err:
        resolve_launch(path, {})
    return (str(err.value), time.perf_counter() - start,
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)


def test_an_alias_bomb_is_refused_at_once(tmp_path):
    path = tmp_path / "bomb.launch.yaml"
    path.write_text(alias_bomb(30))  # 2**30 tags expanded
    assert path.stat().st_size < 3000
    error, seconds, grown_kb = _run(path)
    assert f"more than {MAX_NODES} YAML nodes with aliases expanded" in error
    assert seconds < 5 and grown_kb < 100_000


def test_a_recursive_alias_is_an_error_naming_its_line(tmp_path):
    path = tmp_path / "rec.launch.yaml"
    path.write_text("launch:\n- group:\n    children: &a\n    - group: {children: *a}\n")
    error, _, _ = _run(path)
    assert "rec.launch.yaml:3: recursive YAML alias" in error


@pytest.mark.parametrize("nesting, message", [
    (20_000, "YAML nested too deeply to read"),  # past Python's recursion limit in the reader
    (MAX_DEPTH + 10, f"nested more than {MAX_DEPTH} levels deep"),
])
def test_deep_nesting_is_an_error(tmp_path, nesting, message):
    path = tmp_path / "deep.launch.yaml"
    path.write_text("launch:\n- let: {name: a, value: " + "[" * nesting + "]" * nesting + "}\n")
    error, _, _ = _run(path)
    assert message in error


def test_include_chains_are_bounded(tmp_path):
    for i in range(MAX_INCLUDE_DEPTH + 2):
        (tmp_path / f"f{i}.launch.yaml").write_text(
            f"launch:\n- include: {{file: $(dirname)/f{i + 1}.launch.yaml}}\n")
    (tmp_path / f"f{MAX_INCLUDE_DEPTH + 2}.launch.yaml").write_text("launch: []\n")
    error, _, _ = _run(tmp_path / "f0.launch.yaml")
    assert f"include: more than {MAX_INCLUDE_DEPTH} files deep" in error


def test_include_fan_out_is_bounded(tmp_path):
    """Each file includes the next ten times: 10**6 tags from six small files."""
    for i in range(6):
        body = "".join(f"- include: {{file: $(dirname)/g{i + 1}.launch.yaml}}\n"
                       for _ in range(10))
        (tmp_path / f"g{i}.launch.yaml").write_text("launch:\n" + body)
    (tmp_path / "g6.launch.yaml").write_text("launch:\n- let: {name: x, value: y}\n")
    error, seconds, _ = _run(tmp_path / "g0.launch.yaml")
    # Unbounded, the 10**6 tags take about an hour; the bound stops it after 10**4
    # (5 s beside a training).
    assert f"more than {MAX_ENTITIES} tags" in error and seconds < 60


def test_the_cli_prints_one_line_and_exits_2(tmp_path, capsys):
    path = tmp_path / "bomb.launch.yaml"
    path.write_text(alias_bomb(30))
    assert main([str(path), "--print"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("embodied-mm launch: error: ")


@pytest.mark.parametrize("data, message", [
    (b"launch: []\x1f\n", "invalid YAML"),  # a control character (found by the fuzz test)
    (b"launch: [\xff]\n", "not UTF-8 text"),
])
def test_unreadable_text_is_a_launch_error(tmp_path, data, message):
    path = tmp_path / "a.launch.yaml"
    path.write_bytes(data)
    error, _, _ = _run(path)
    assert message in error
