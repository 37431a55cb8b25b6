"""`embodied-mm report` on an autonomous `embodied-mm eval` folder: same page and numbers, no
interventions, full autonomy; bad folders get a one-line error."""

from __future__ import annotations

import json

from embodied_mm.eval.report import summarize
from embodied_mm.eval.session_report import main, report


def _row(task: str, seed: int, success: bool) -> dict:
    return {"task": task, "seed": seed, "instruction": f"<b>{task}</b> it", "success": success,
            "outcome": "done" if success else "step_budget", "sim_s": 4.5,
            "steps": ["pick(obj_1)", "place(obj_2)", "done()"],
            "planner_latency_ms": [1.0, 1.0, 1.0], "skill_outcomes": []}


def test_report_of_an_eval_folder(tmp_path):
    rows = [_row("stack", 0, True), _row("stack", 1, False), _row("pick_place", 0, True)]
    (tmp_path / "eval_info.json").write_text(json.dumps(summarize(rows, "oracle", None, 9.0)))
    info = report(tmp_path)
    assert info["overall"]["success_rate"] == 2 / 3
    assert info["overall"]["interventions_per_episode"] == 0
    assert info["overall"]["autonomy"] == 1.0
    assert info["overall"]["autonomous_success_rate"] == 2 / 3
    assert info["per_task"]["stack"]["time_to_done_s"] == 4.5  # only the episode that ended done
    assert info["eval_s"] == 9.0 and info["planner"] == "oracle"
    page = (tmp_path / "report.html").read_text()
    assert "<b>stack</b>" not in page and "&lt;b&gt;stack&lt;/b&gt;" in page  # escaped
    for plot in ("success_rate.png", "interventions.png", "time_to_done.png"):
        assert plot in page and (tmp_path / plot).stat().st_size > 1000
    assert json.loads((tmp_path / "eval_info.json").read_text())["overall"]["autonomy"] == 1.0


def test_a_folder_without_results_is_a_clear_error(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert "neither session.json" in capsys.readouterr().err
    assert main([str(tmp_path / "missing")]) == 2
