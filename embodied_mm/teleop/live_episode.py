"""The episode the operator is running: steps sent, interventions, control time, timer.

Pure bookkeeping for the console (no ROS): the console node calls it as events happen and
records what it returns.

Example:
    >>> e = LiveEpisode(1, "stack the blocks")
    >>> record = e.add_step("pick(obj_1)", "planner", "auto")
    >>> e.on_status("pick(obj_1)", "running")
    >>> [r["decision"] for r in e.take_over()], e.interventions
    (['auto+preempted'], 1)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

FINAL = {"succeeded", "failed", "invalid", "terminal", "estop", "aborted", "rejected"}


@dataclass
class LiveEpisode:
    """One episode from "run" to its label; times in seconds (wall clock)."""

    id: int
    instruction: str
    started: float = field(default_factory=time.time)
    steps: list[dict[str, Any]] = field(default_factory=list)
    interventions: int = 0
    operator_s: float = 0.0  # time the operator had control, finished spans
    operator_since: float | None = None  # start of the running span
    done_s: float | None = None  # when the executor ran done()/cannot()
    ended: float | None = None

    def elapsed(self) -> float:
        return (self.ended or time.time()) - self.started

    def add_step(self, step: str, source: str, decision: str, intervention: bool = False,
                 status: str = "sent") -> dict[str, Any]:
        """Records a step sent to the robot (or rejected); returns the record."""
        record = {"index": len(self.steps), "step": step, "source": source,
                  "decision": decision, "intervention": intervention, "status": status,
                  "reason": "", "t": round(self.elapsed(), 3)}
        self.steps.append(record)
        if decision == "rejected":
            self.interventions += 1
        return record

    def on_status(self, step: str, status: str, reason: str = "") -> None:
        """An executor status: updates the newest unfinished record of that step."""
        for record in reversed(self.steps):
            if record["step"] == step and record["status"] not in FINAL:
                record.update(status=status, reason=reason)
                break
        if status == "terminal" and self.done_s is None:
            self.done_s = round(self.elapsed(), 2)

    def take_over(self) -> list[dict[str, Any]]:
        """The operator took control: counts it; returns the records of interrupted steps."""
        self.interventions += 1
        self.operator_since = time.time()
        interrupted = [r for r in self.steps if r["status"] == "running"]
        for record in interrupted:
            record.update(intervention=True, decision=record["decision"] + "+preempted")
        return interrupted

    def hand_back(self) -> None:
        if self.operator_since is not None:
            self.operator_s += time.time() - self.operator_since
            self.operator_since = None

    def end(self, label: str | None, note: str, sim_success: bool | None) -> dict[str, Any]:
        """Ends the episode; returns its summary (what the label message and index hold)."""
        self.hand_back()
        self.ended = time.time()
        return {"label": label, "note": note, "sim_success": sim_success,
                "interventions": self.interventions, "operator_s": round(self.operator_s, 2),
                "duration_s": round(self.ended - self.started, 2),
                "time_to_done_s": self.done_s, "steps": [r["step"] for r in self.steps]}

    def snapshot(self) -> dict[str, Any]:
        return {"id": self.id, "instruction": self.instruction,
                "elapsed_s": round(self.elapsed(), 1), "steps": [dict(r) for r in self.steps],
                "interventions": self.interventions, "done_s": self.done_s,
                "labelled": self.ended is not None}
