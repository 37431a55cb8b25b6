"""`embodied-mm bench`: the planner benchmark end to end on the tiny LLM, config errors."""

from __future__ import annotations

import json

import pytest

from embodied_mm.bench import run_bench, summary_lines
from embodied_mm.config import load_config
from embodied_mm.config.schema import ConfigError


@pytest.mark.sim
def test_planner_bench_writes_json_and_agrees_with_the_reference(tmp_path):
    out = tmp_path / "bench.json"
    cfg = load_config(["model.llm=tiny", "planner=palme", f"planner.checkpoint={tmp_path}",
                       "bench.which=[planner]", "bench.repeats=2", "bench.warmup=1",
                       "bench.naive_repeats=1", "bench.objects=[3,6]", "bench.scene_seeds=2",
                       "bench.agreement_seeds=1",
                       f"bench.out={out}"])
    lines: list[str] = []
    results = run_bench(cfg, echo=lines.append)
    saved = json.loads(out.read_text())
    planner = saved["planner"]
    n_scenes = 2 * 2 + 8  # two scenes of each size + the first of each of the 8 families
    assert planner["same_steps_as_reference"] == f"{n_scenes}/{n_scenes}"
    assert planner["rechecked"].endswith(f"/{n_scenes}")
    assert set(planner["by_objects"]) == {"3", "6"}
    assert planner["decision"]["optimised"]["n"] == 2 * 2  # 2 repeats on each 3-object scene
    assert planner["model"].startswith("untrained")  # no checkpoint in tmp_path
    assert planner["peak_rss_mb"] > 0 and saved["machine"]["cores"] >= 1
    assert results["planner"] == planner
    assert any("speed-up over naive" in line for line in lines)
    assert summary_lines(saved)[0] == "| benchmark | result |"


@pytest.mark.sim
def test_perception_bench_times_every_mode(tmp_path):
    out = tmp_path / "bench.json"
    cfg = load_config(["bench.which=[perception]", "bench.repeats=2", "bench.warmup=0",
                       f"bench.out={out}"])
    lines: list[str] = []
    saved = run_bench(cfg, echo=lines.append)["perception"]
    for mode in ("gt", "color", "learned"):
        assert saved[mode]["n"] >= 2 and saved[mode]["median_ms"] > 0
    assert sum("perception learned per 320x240 frame" in line for line in lines) == 1


@pytest.mark.sim
def test_a_seeds_scenes_of_every_size_share_its_instruction():
    """The sizes of a seed take turns decision by decision only if they share the instruction
    (and so its cached prefix); the distractors alone grow."""
    from embodied_mm.bench.planner import observations

    sized, _ = observations(load_config([]), [3, 5, 10], images=False, scene_seeds=4)
    assert [len(obs.objects) for _, obs in sized] == [3] * 4 + [5] * 4 + [10] * 4
    instructions = [instruction for instruction, _ in sized]
    assert instructions[:4] == instructions[4:8] == instructions[8:]
    assert len(set(instructions[:4])) > 1


@pytest.mark.parametrize("override, message", [
    ("bench.which=[gpu]", "bench.which"), ("bench.repeats=0", "bench.repeats"),
    ("bench.objects=[1]", "bench.objects")])
def test_bad_bench_config_is_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config([override])


def test_interleaved_timings_take_turns_after_warm_up():
    from embodied_mm.bench.stats import interleaved_timings

    calls = []
    durations = interleaved_timings([lambda: calls.append("a"), lambda: calls.append("b")],
                                    repeats=3, warmup=1)
    assert calls == ["a", "b"] * 4
    assert [len(times) for times in durations] == [3, 3]
    assert all(t >= 0 for times in durations for t in times)
