"""The soak tool's accounting: episodes counted from eval_info.json, the recording read to its
end, planner memory growth from the longest-lived planner process. (The soak itself runs the
graph: `python -m embodied_mm.launch_runner.soak`, see docs/reliability.md.)"""

from __future__ import annotations

import json
import os

import pytest

from embodied_mm.launch_runner.soak import (
    check,
    longest_planner,
    main,
    planner_growth_mb,
    rss_mb,
)


def test_growth_is_measured_on_the_longest_lived_planner_after_warm_up():
    samples = [(t, 1, 100.0 + t) for t in range(8)]  # grows 1 MB/s
    samples += [(8 + t, 2, 300.0) for t in range(3)]  # a respawn, short-lived
    assert planner_growth_mb(samples) == 107.0 - 104.0  # over the second half of its life
    assert longest_planner(samples) == [(t, 100.0 + t) for t in range(8)]
    assert planner_growth_mb(samples[:2]) is None and planner_growth_mb([]) is None
    # memory given back at shutdown does not hide growth before it: the peak counts
    shutdown = [(t, 1, 100.0 + t) for t in range(8)] + [(8, 1, 50.0)]
    assert planner_growth_mb(shutdown) == 107.0 - 104.0


def test_rss_of_this_process_and_of_a_gone_one():
    assert rss_mb(os.getpid()) > 10
    assert rss_mb(2**22 + 12345) is None


def test_check_counts_episodes_and_flags_a_broken_recording(tmp_path):
    (tmp_path / "eval_info.json").write_text(json.dumps({
        "overall": {"success_rate": 0.5},
        "per_episode": [{"outcome": "done"}, {"outcome": "aborted"}]}))
    (tmp_path / "run.mcap").write_bytes(b"\x89MCAP0\r\n" + b"\x01" * 50)
    result = check(tmp_path, 3)
    assert result["episodes_accounted"] == 2 and result["outcomes"] == {"done": 1, "aborted": 1}
    assert result["mcap_readable"] is False
    (tmp_path / "run.mcap").unlink()
    assert "recording missing" in check(tmp_path, 3)["mcap_error"]
    assert check(tmp_path / "nothing", 1)["episodes_accounted"] == 0


@pytest.mark.parametrize("argv", [["--episodes", "0"], ["--fault-every", "0"]])
def test_bad_options_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
