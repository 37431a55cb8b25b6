"""Tests for `embodied_mm.eval.report`: summary numbers, files written, escaping, the plot."""

from __future__ import annotations

import matplotlib.image
import pytest

from embodied_mm.eval.report import cannot_rate, markdown_comparison, summarize, write_report

MALICIOUS = "<script>alert(1)</script> put the red block in the bowl"


def _row(task: str, seed: int, success: bool, instruction: str = "stack the blocks") -> dict:
    return {"task": task, "seed": seed, "instruction": instruction, "success": success,
            "outcome": "done" if success else "cannot",
            "steps": ["pick(obj_1)", "place(obj_2)", "done()"],
            "planner_latency_ms": [2.0, 4.0, 6.0],
            "skill_outcomes": [{"step": "pick(obj_1)", "status": "succeeded", "reason": ""},
                               {"step": "place(obj_2)", "status": "failed",
                                "reason": "lost the <block>"}]}


@pytest.fixture
def rows() -> list[dict]:
    return [_row("stack", 0, True), _row("stack", 1, False), _row("stack", 2, True),
            _row("pick_place", 0, True, MALICIOUS), _row("pick_place", 1, True)]


def test_summarize_counts_and_rates(rows):
    info = summarize(rows, "oracle", None, 12.5)
    assert info["planner"] == "oracle" and info["model"] is None and info["eval_s"] == 12.5
    assert info["overall"] == {"success_rate": 0.8, "n_episodes": 5}
    assert list(info["per_task"]) == ["pick_place", "stack"]
    assert info["per_task"]["pick_place"] == {"success_rate": 1.0, "n_episodes": 2}
    assert info["per_task"]["stack"]["n_episodes"] == 3
    assert info["per_task"]["stack"]["success_rate"] == pytest.approx(2 / 3)
    assert info["per_episode"] == rows


def test_summarize_rejects_no_episodes():
    with pytest.raises(ValueError, match="no episodes"):
        summarize([], "oracle", None, 0.0)


def test_write_report_makes_html_and_png(rows, tmp_path):
    path = write_report(summarize(rows, "palme", "gemma3-270m", 3.0), tmp_path / "out")
    assert path == tmp_path / "out" / "report.html"
    text = path.read_text(encoding="utf-8")
    assert "palme" in text and "gemma3-270m" in text
    assert '<img src="success_rate.png"' in text
    assert "80.0%" in text and "66.7%" in text  # overall and stack rates
    assert "4.0 ms" in text  # median planner latency
    assert "pick(obj_1); place(obj_2); done()" in text
    assert "✓" in text and "✗" in text
    assert "http://" not in text and "https://" not in text  # self-contained


def test_html_escapes_user_text(rows, tmp_path):
    text = write_report(summarize(rows, "oracle", None, 1.0), tmp_path).read_text()
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "place(obj_2): lost the &lt;block&gt;" in text


def test_plot_is_a_valid_png(rows, tmp_path):
    write_report(summarize(rows, "oracle", None, 1.0), tmp_path)
    image = matplotlib.image.imread(tmp_path / "success_rate.png")
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image.std() > 0  # not a blank canvas


def test_comparison_table_and_gave_up_rate(rows):
    gave_up = dict(_row("stack", 3, False), steps=["cannot()"])
    refused = dict(_row("infeasible", 0, True), steps=["cannot()"])
    a = summarize(rows, "palme", None, 1.0)
    b = summarize([*rows, gave_up, refused], "palme", None, 1.0)
    assert cannot_rate(a) == 0.0 and cannot_rate(b) == 1 / 6  # infeasible is not counted
    lines = markdown_comparison({"main": a, "more": b})
    assert lines[0] == "| task family | main | more |"
    assert "| infeasible | – | 1.00 |" in lines
    assert "| stack | 0.67 | 0.50 |" in lines
    assert lines[-2] == "| **overall** | **0.80** (5) | **0.71** (7) |"
    assert lines[-1] == "| feasible episodes ending in `cannot()` | 0.00 | 0.17 |"
