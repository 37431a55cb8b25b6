"""`embodied-mm report DIR`: eval_info.json + report.html for a teleop session or an eval run.

For a teleop session folder (`session.json` + one MCAP per episode) every episode is read back
from its MCAP (a file cut short by a crash up to its last whole chunk, with a warning naming
the file and the byte offset, and `truncated_at_byte` in its row; a missing or unreadable
recording is an error, never an episode read as empty): the operator's label (success),
interventions (take-overs + rejected steps), autonomy (fraction of the episode's time under
planner control), time to `done()`, and the sim's own verdict where it had one. For an
`embodied-mm eval` (or graph) output folder the rows of its `eval_info.json` are used, with
no interventions and full autonomy. Both get the same `eval_info.json` (DESIGN.md format plus
those numbers) and `report.html`: per-task table, plots (success rate, interventions per
episode, time to completion) and, where episodes were recorded, a thumbnail and a WebM video
(VP8) per episode under `media/`.

Example:
    embodied-mm report outputs/teleop/session
    embodied-mm report /tmp/o          # an `embodied-mm eval eval.out_dir=/tmp/o` folder
"""

from __future__ import annotations

import argparse
import html
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from embodied_mm.eval.report import CSS, REPORT_NAME, plot_success, summarize, table

PLOTS_CSS = ".plots img { max-width: 32%; height: auto; vertical-align: top; }"
INTERVENTIONS_PLOT, TIME_PLOT, SUCCESS_PLOT = ("interventions.png", "time_to_done.png",
                                               "success_rate.png")


def session_rows(session_dir: Path) -> tuple[str, list[dict[str, Any]]]:
    """(planner, one row per recorded episode) of a teleop session; writes media/ too."""
    from embodied_mm.teleop.episode_log import EpisodeLog
    from embodied_mm.teleop.session import load_index

    index = load_index(session_dir)
    rows = []
    for entry in index["episodes"]:
        log = EpisodeLog.read(session_dir / entry["file"])
        label = log.label or {}
        sim_success = label.get("sim_success", entry.get("sim_success"))
        operator_label = label.get("label", entry.get("label"))
        terminal = [st["step"].split("(")[0] for _, st in log.statuses
                    if st.get("source") == "executor" and st.get("status") == "terminal"]
        row = {
            "task": entry.get("task") or "custom", "seed": entry.get("seed"),
            "instruction": log.instruction or entry.get("instruction", ""),
            "success": operator_label == "success" if operator_label else bool(sim_success),
            "outcome": terminal[-1] if terminal else ("labelled" if operator_label
                                                      else "unfinished"),
            "steps": log.steps, "planner_latency_ms": log.planner_latency_ms,
            "skill_outcomes": log.skill_outcomes(),
            "n_objects": len(log.scene.get("objects", [])),
            "interventions": log.interventions, "autonomy": round(log.autonomy, 3),
            "time_to_done_s": log.time_to_done_s, "duration_s": round(log.duration_s, 2),
            "label": operator_label, "note": label.get("note", entry.get("note", "")),
            "sim_success": sim_success,
            "label_agrees_sim": None if operator_label is None or sim_success is None
            else (operator_label == "success") == bool(sim_success),
            "episode": entry["id"], "mcap": entry["file"],
            "finalised": entry.get("status") == "finalised",
            "truncated_at_byte": log.truncated_at,
            "intervention_steps": [r["index"] for r in log.step_records if r["intervention"]],
        }
        row.update(write_media(log.frames, session_dir / "media", Path(entry["file"]).stem,
                               session_dir))
        rows.append(row)
    return index.get("planner", "?"), rows


def eval_rows(eval_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(eval_info, rows) of an `embodied-mm eval` folder, rows with the teleop numbers added:
    no interventions, full autonomy, time to done = robot time of episodes ending in done()."""
    path = eval_dir / "eval_info.json"
    if not path.is_file():
        raise FileNotFoundError(f"{eval_dir} has neither session.json (teleop session) nor "
                                "eval_info.json (embodied-mm eval)")
    info = json.loads(path.read_text())
    rows = []
    for row in info["per_episode"]:
        rows.append({"interventions": 0, "autonomy": 1.0,
                     "time_to_done_s": row.get("sim_s") if row.get("outcome") == "done"
                     else None, "label": None, "sim_success": row["success"], **row})
    return info, rows


def write_media(frames: Sequence[tuple[float, Any]], media_dir: Path, stem: str,
                root: Path) -> dict[str, str]:
    """A thumbnail (last frame) and a video of `frames`; paths relative to `root`.

    The video is VP8 in WebM: the PyPI OpenCV wheels write it, and browsers play it inline
    (they do not play the wheels' other codec, MPEG-4 part 2)."""
    import cv2

    if not frames:
        return {}
    media_dir.mkdir(parents=True, exist_ok=True)
    thumb, video = media_dir / f"{stem}.jpg", media_dir / f"{stem}.webm"
    last = cv2.cvtColor(frames[-1][1], cv2.COLOR_RGB2BGR)
    height, width = last.shape[:2]
    cv2.imwrite(str(thumb), cv2.resize(last, (160, round(160 * height / width))))
    span = frames[-1][0] - frames[0][0]
    fps = max(1.0, min(30.0, (len(frames) - 1) / span)) if span > 0 else 1.0
    # (FFmpeg notes on stderr that it stores VP8's own tag instead of "VP80"; harmless.)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"VP80"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"this OpenCV build cannot write VP8/WebM video ({video}); "
                           "install opencv-python-headless from PyPI")
    for _, rgb in frames:
        if rgb.shape[:2] == (height, width):
            writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return {"thumbnail": str(thumb.relative_to(root)), "video": str(video.relative_to(root))}


def summarize_rows(rows: list[dict[str, Any]], planner: str, model: str | None,
                   eval_s: float) -> dict[str, Any]:
    """`summarize` plus interventions, autonomy, time to done and label-vs-sim agreement.

    In a session with labels the numbers count the labelled episodes only (one abandoned or
    cut short by a crash is listed, not judged); without any label, every episode counts.
    """
    counted = [r for r in rows if r.get("label") is not None] or rows
    info = summarize(counted, planner, model, eval_s)
    info["per_episode"] = rows
    info["unlabelled_episodes"] = [r.get("episode") for r in rows if r not in counted]
    by_task: dict[str, list[dict]] = defaultdict(list)
    for row in counted:
        by_task[row["task"]].append(row)
    for task, stats in info["per_task"].items():
        stats.update(_numbers(by_task[task]))
    info["overall"].update(_numbers(counted))
    judged = [r for r in counted if r.get("label_agrees_sim") is not None]
    info["label_vs_sim"] = {"n_episodes": len(judged),
                            "agree": sum(r["label_agrees_sim"] for r in judged),
                            "disagree_episodes": [r.get("episode") for r in judged
                                                  if not r["label_agrees_sim"]]}
    return info


def _numbers(rows: list[dict[str, Any]]) -> dict[str, Any]:
    times = [r["time_to_done_s"] for r in rows if r.get("time_to_done_s") is not None]
    return {
        "interventions": sum(r["interventions"] for r in rows),
        "interventions_per_episode": round(sum(r["interventions"] for r in rows) / len(rows), 3),
        "autonomy": round(statistics.fmean(r["autonomy"] for r in rows), 3),
        "autonomous_success_rate": sum(r["success"] and r["interventions"] == 0
                                       for r in rows) / len(rows),
        "time_to_done_s": round(statistics.median(times), 2) if times else None,
    }


def write_plots(info: dict[str, Any], out: Path) -> None:
    """success_rate.png, interventions.png and time_to_done.png next to the report."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    plot_success(info, out / SUCCESS_PLOT)
    rows = info["per_episode"]
    names = [str(r.get("episode", i + 1)) for i, r in enumerate(rows)]
    colors = ["#1a7f37" if r["success"] else "#cf222e" for r in rows]
    for name, key, ylabel in ((INTERVENTIONS_PLOT, "interventions", "interventions"),
                              (TIME_PLOT, "time_to_done_s", "time to done() (s)")):
        fig = Figure(figsize=(max(4.0, 0.45 * len(rows) + 2), 3.2), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.bar(names, [r.get(key) or 0 for r in rows], color=colors)
        ax.set_xlabel("episode (green: success)")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{info['planner']}: {ylabel} per episode")
        fig.savefig(out / name, dpi=90)


def render_html(info: dict[str, Any], source: str) -> str:
    e = html.escape
    overall = info["overall"]

    def num(value: Any, fmt: str = "{:.2f}") -> str:
        return "–" if value is None else fmt.format(value)

    summary = [("success rate", f"{overall['success_rate']:.1%}"),
               ("autonomous success rate", f"{overall['autonomous_success_rate']:.1%}"),
               ("episodes", str(overall["n_episodes"])),
               ("interventions per episode", num(overall["interventions_per_episode"])),
               ("autonomy (time under planner control)", f"{overall['autonomy']:.1%}"),
               ("median time to done()", num(overall["time_to_done_s"], "{:.1f} s")),
               ("operator label agrees with sim", f"{info['label_vs_sim']['agree']}/"
                f"{info['label_vs_sim']['n_episodes']}"),
               ("not labelled (listed, not counted)", str(len(info["unlabelled_episodes"])))]
    tasks = [[e(task), str(s["n_episodes"]), f"{s['success_rate']:.1%}",
              f"{s['autonomous_success_rate']:.1%}", num(s["interventions_per_episode"]),
              f"{s['autonomy']:.1%}", num(s["time_to_done_s"], "{:.1f}")]
             for task, s in info["per_task"].items()]
    episodes = []
    for row in info["per_episode"]:
        mark = '<span class="ok">✓</span>' if row["success"] else '<span class="fail">✗</span>'
        if row.get("episode") in info.get("unlabelled_episodes", ()):
            mark = "not counted"
        media = ""
        if row.get("thumbnail"):
            media = (f'<a href="{e(row["video"])}"><img src="{e(row["thumbnail"])}" '
                     f'alt="episode {e(str(row.get("episode")))}" width="160"></a>')
        sim = {None: "–", True: "success", False: "failure"}[row.get("sim_success")]
        flagged = set(row.get("intervention_steps", []))
        plan = "; ".join(f"<b>{e(s)}</b>" if i in flagged else e(s)
                         for i, s in enumerate(row.get("steps", [])))
        episodes.append([media, e(str(row.get("episode", ""))), e(row["task"]),
                         e(str(row.get("seed"))), e(row["instruction"]), mark,
                         e(row.get("label") or "–"), e(sim), str(row["interventions"]),
                         f"{row['autonomy']:.0%}", num(row.get("time_to_done_s"), "{:.1f}"),
                         plan, e(row.get("note", ""))])
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>embodied-mm report: {e(info['planner'])}</title><style>{CSS}{PLOTS_CSS}</style>",
        "</head><body>", f"<h1>embodied-mm report: {e(info['planner'])}</h1>",
        f"<p>{e(source)}</p>", "<h2>Summary</h2>",
        table(["metric", "value"], [[e(k), e(v)] for k, v in summary], numeric={1}),
        "<h2>Per task</h2>",
        table(["task", "episodes", "success", "autonomous success", "interventions/episode",
               "autonomy", "median time to done (s)"], tasks, numeric={1, 2, 3, 4, 5, 6}),
        '<div class="plots">',
        f'<img src="{SUCCESS_PLOT}" alt="success rate per task">',
        f'<img src="{INTERVENTIONS_PLOT}" alt="interventions per episode">',
        f'<img src="{TIME_PLOT}" alt="time to completion per episode">', "</div>",
        "<h2>Episodes</h2><p>Plan steps in bold carry an intervention flag.</p>",
        table(["video", "#", "task", "seed", "instruction", "success", "operator label",
               "sim", "interventions", "autonomy", "time to done (s)", "plan", "note"],
              episodes, numeric={1, 3, 8, 9, 10}),
        "</body></html>", ""])


def report(directory: str | Path) -> dict[str, Any]:
    """Writes `eval_info.json`, `report.html`, the plots and media into `directory`."""
    out = Path(directory)
    if not out.is_dir():
        raise FileNotFoundError(f"no such folder: {out}")
    start = time.perf_counter()
    if (out / "session.json").is_file():
        planner, rows = session_rows(out)
        if not rows:
            raise ValueError(f"{out}: the session has no recorded episodes yet")
        info = summarize_rows(rows, planner, None, round(time.perf_counter() - start, 2))
        source = f"teleoperated session {out} ({len(rows)} episodes)"
    else:
        base, rows = eval_rows(out)
        info = {**base, **summarize_rows(rows, base["planner"], base.get("model"),
                                         base.get("eval_s", 0.0))}
        source = f"autonomous evaluation {out} ({len(rows)} episodes)"
    (out / "eval_info.json").write_text(json.dumps(info, indent=2))
    write_plots(info, out)
    (out / REPORT_NAME).write_text(render_html(info, source), encoding="utf-8")
    return info


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="embodied-mm report", description=__doc__.split(
        "\n")[0].split(": ", 1)[1])
    parser.add_argument("directory", help="a teleop session folder or an eval output folder")
    args = parser.parse_args(argv)
    try:
        info = report(args.directory)
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"embodied-mm report: error: {err}", file=sys.stderr)
        return 2
    overall = info["overall"]
    print(f"{overall['n_episodes']} episodes: success {overall['success_rate']:.2f}, "
          f"interventions/episode {overall['interventions_per_episode']:.2f}, autonomy "
          f"{overall['autonomy']:.2f}")
    print(f"wrote {Path(args.directory) / 'eval_info.json'} and "
          f"{Path(args.directory) / REPORT_NAME}")
    return 0
