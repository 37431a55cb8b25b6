"""Evaluation summary and report: `eval_info.json` numbers and a self-contained HTML page.

`summarize` turns per-episode rows (`EpisodeReport.to_dict()`) into the `eval_info` dict of
DESIGN.md; `write_report` renders it as `report.html` plus a `success_rate.png` bar chart next
to it. The page loads nothing from the network, so it opens offline and from CI artifacts.

Example:
    python -c "from embodied_mm.eval.report import summarize, write_report; \
rows = [{'task': 'stack', 'seed': 0, 'instruction': 'stack the red block on the blue block', \
'success': True, 'outcome': 'done', 'steps': ['pick(obj_1)', 'place(obj_2)', 'done()'], \
'planner_latency_ms': [1.0, 1.2, 0.9], 'skill_outcomes': []}]; \
print(write_report(summarize(rows, 'oracle', None, 3.5), 'outputs/report_demo'))"
"""

from __future__ import annotations

import html
import statistics
from collections import defaultdict
from collections.abc import Collection
from pathlib import Path
from typing import Any

PLOT_NAME = "success_rate.png"
REPORT_NAME = "report.html"
FAILED_STATUSES = ("failed", "invalid")  # StepRecord statuses whose reason the report lists

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; }
.ok { color: #1a7f37; font-weight: bold; }
.fail { color: #cf222e; font-weight: bold; }
"""
CSS = _CSS  # shared with the teleop session report


def summarize(per_episode: list[dict[str, Any]], planner: str, model: str | None,
              eval_s: float) -> dict[str, Any]:
    """Builds the `eval_info` dict (overall and per-task success rates) from episode rows.

    Args:
        per_episode: one dict per episode with at least "task" and "success".
        planner: planner name, e.g. `oracle` or `palme`.
        model: checkpoint or LLM name, None for planners without a model.
        eval_s: wall-clock time of the whole evaluation, s.

    Returns:
        {"planner", "model", "overall", "per_task", "per_episode", "eval_s"}; rates are
        fractions in [0, 1], tasks sorted by name.

    Raises:
        ValueError: when `per_episode` is empty (a rate over no episodes means nothing).
    """
    if not per_episode:
        raise ValueError("no episodes to summarize")
    by_task: dict[str, list[bool]] = defaultdict(list)
    for row in per_episode:
        by_task[row["task"]].append(bool(row["success"]))
    successes = [bool(row["success"]) for row in per_episode]
    return {
        "planner": planner,
        "model": model,
        "overall": _rate(successes),
        "per_task": {task: _rate(by_task[task]) for task in sorted(by_task)},
        "per_episode": per_episode,
        "eval_s": eval_s,
    }


def _rate(successes: list[bool]) -> dict[str, Any]:
    return {"success_rate": sum(successes) / len(successes), "n_episodes": len(successes)}


def cannot_rate(eval_info: dict[str, Any]) -> float | None:
    """Fraction of feasible episodes (not `infeasible`, not naming something absent) whose last
    step was `cannot()`: a planner that gives up on doable tasks; None without such episodes."""
    feasible = [row for row in eval_info["per_episode"]
                if row.get("feasible", row["task"] != "infeasible")]
    if not feasible:
        return None
    return sum(bool(row["steps"]) and row["steps"][-1] == "cannot()"
               for row in feasible) / len(feasible)


def markdown_comparison(columns: dict[str, dict[str, Any]]) -> list[str]:
    """A markdown table of success rates per task family, one column per evaluation
    (label → eval_info), with the overall rate and the feasible-ending-in-`cannot()` rate."""
    tasks = sorted({task for info in columns.values() for task in info["per_task"]})

    def cell(info: dict[str, Any], task: str) -> str:
        row = info["per_task"].get(task)
        return "–" if row is None else f"{row['success_rate']:.2f}"

    def rate(value: float | None) -> str:
        return "–" if value is None else f"{value:.2f}"

    return [f"| task family | {' | '.join(columns)} |",
            "|---|" + "---:|" * len(columns),
            *(f"| {task} | {' | '.join(cell(i, task) for i in columns.values())} |"
              for task in tasks),
            "| **overall** | " + " | ".join(
                f"**{i['overall']['success_rate']:.2f}** ({i['overall']['n_episodes']})"
                for i in columns.values()) + " |",
            "| feasible episodes ending in `cannot()` | "
            + " | ".join(rate(cannot_rate(i)) for i in columns.values()) + " |"]


def write_report(eval_info: dict[str, Any], out_dir: str | Path) -> Path:
    """Writes `out_dir/report.html` and `out_dir/success_rate.png`; returns the HTML path.

    Args:
        eval_info: the dict `summarize` returns (or loaded from `eval_info.json`).
        out_dir: folder for both files; created if missing.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _plot_success(eval_info, out / PLOT_NAME)
    path = out / REPORT_NAME
    path.write_text(_render_html(eval_info), encoding="utf-8")
    return path


def plot_success(eval_info: dict[str, Any], path: str | Path) -> None:
    """Writes the per-task success-rate bar chart of `eval_info` to `path` (PNG)."""
    _plot_success(eval_info, Path(path))


def _plot_success(eval_info: dict[str, Any], path: Path) -> None:
    # Figure + Agg canvas directly (not pyplot), so no global backend state is touched.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    tasks = list(eval_info["per_task"])
    rates = [eval_info["per_task"][t]["success_rate"] for t in tasks]
    fig = Figure(figsize=(max(4.0, 1.1 * len(tasks) + 1.5), 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    bars = ax.bar(tasks, rates, color="#4c72b0")
    labels = [f"n={eval_info['per_task'][t]['n_episodes']}" for t in tasks]
    ax.bar_label(bars, labels=labels, padding=2, fontsize=8)
    overall = eval_info["overall"]["success_rate"]
    ax.axhline(overall, color="#c44e52", linestyle="--", label=f"overall {overall:.0%}")
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("success rate")
    ax.set_title(f"{eval_info['planner']}: success rate per task")
    ax.tick_params(axis="x", labelrotation=30)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)  # clear of the bars
    fig.savefig(path, dpi=100)


def _render_html(eval_info: dict[str, Any]) -> str:
    e = html.escape
    episodes = eval_info["per_episode"]
    title = f"embodied-mm eval: {eval_info['planner']}"
    if eval_info.get("model"):
        title += f" ({eval_info['model']})"
    latencies = [ms for row in episodes for ms in row.get("planner_latency_ms", [])]
    median_ms = f"{statistics.median(latencies):.1f} ms" if latencies else "n/a"
    overall = eval_info["overall"]
    summary = [("success rate", f"{overall['success_rate']:.1%}"),
               ("episodes", str(overall["n_episodes"])),
               ("eval time", f"{eval_info['eval_s']:.1f} s"),
               ("median planner latency", median_ms)]
    task_rows = []
    for task, stats in eval_info["per_task"].items():
        wins = sum(bool(row["success"]) for row in episodes if row["task"] == task)
        task_rows.append([e(task), str(stats["n_episodes"]), str(wins),
                          f"{stats['success_rate']:.1%}"])
    episode_rows = []
    for row in episodes:
        mark = '<span class="ok">✓</span>' if row["success"] else '<span class="fail">✗</span>'
        failures = [f"{o['step']}: {o['reason']}" for o in row.get("skill_outcomes", [])
                    if o.get("status") in FAILED_STATUSES]
        episode_rows.append([e(row["task"]), e(str(row["seed"])), e(row["instruction"]), mark,
                             e(row.get("outcome", "")), e("; ".join(row.get("steps", []))),
                             e("; ".join(failures))])
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        "<h2>Summary</h2>",
        _table(["metric", "value"], [[e(k), e(v)] for k, v in summary], numeric={1}),
        "<h2>Per task</h2>",
        _table(["task", "episodes", "successes", "success rate"], task_rows,
               numeric={1, 2, 3}),
        f'<img src="{PLOT_NAME}" alt="success rate per task">',
        "<h2>Episodes</h2>",
        _table(["task", "seed", "instruction", "success", "outcome", "plan",
                "failed skills"], episode_rows, numeric={1}),
        "</body></html>", ""])


def table(header: list[str], rows: list[list[str]], numeric: Collection[int] = ()) -> str:
    """An HTML table from already escaped cells (the report's style); `numeric` columns are
    right-aligned."""
    return _table(header, rows, numeric)


def _table(header: list[str], rows: list[list[str]], numeric: Collection[int] = ()) -> str:
    """An HTML table from already escaped cells; columns in `numeric` are right-aligned."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
