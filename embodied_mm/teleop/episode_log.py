"""One recorded teleop episode, read back from its MCAP into plain Python (no rclpy needed).

`EpisodeLog.read(path)` decodes the messages the console recorded and derives the numbers the
report uses: who had control when (autonomy), interventions, time to `done()`, planner
latencies, and the operator's label. Images are kept as (time, H×W×3 uint8) frames.

Example:
    python -c "from embodied_mm.teleop.episode_log import EpisodeLog; \
e = EpisodeLog.read('outputs/teleop/session/episode_0001.mcap'); print(e.autonomy, e.steps)"
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embodied_mm.ros import topics as t
from embodied_mm.teleop.mcap_io import read_messages

FINAL = {"succeeded", "failed", "invalid", "terminal", "estop", "aborted"}


def image_array(msg: Any) -> np.ndarray | None:
    """A decoded `sensor_msgs/Image` (rgb8 or 32SC1) as a numpy array; None otherwise."""
    dtype, channels = {"rgb8": (np.uint8, 3), "32SC1": (np.int32, 1)}.get(msg.encoding,
                                                                           (None, 0))
    if dtype is None or msg.step != msg.width * channels * np.dtype(dtype).itemsize:
        return None
    array = np.frombuffer(bytes(msg.data), dtype=dtype)
    if array.size != msg.width * msg.height * channels:
        return None
    shape = (msg.height, msg.width, 3) if channels == 3 else (msg.height, msg.width)
    return array.reshape(shape)


@dataclass
class EpisodeLog:
    """What one episode file holds, with times in seconds from the episode's start."""

    path: Path
    start_ns: int = 0
    end_ns: int = 0
    instruction: str = ""
    scene: dict[str, Any] = field(default_factory=dict)  # the sim's /embodied_mm/episode
    step_records: list[dict[str, Any]] = field(default_factory=list)  # console step records
    statuses: list[tuple[float, dict[str, str]]] = field(default_factory=list)
    proposals: list[tuple[float, str]] = field(default_factory=list)
    control: list[tuple[float, bool]] = field(default_factory=list)  # (t, operator has it)
    label: dict[str, Any] | None = None
    frames: list[tuple[float, np.ndarray]] = field(default_factory=list)
    segmentations: list[tuple[float, np.ndarray]] = field(default_factory=list)
    joints: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    markers: list[tuple[float, list[dict[str, Any]]]] = field(default_factory=list)
    topics: dict[str, int] = field(default_factory=dict)  # topic -> message count
    truncated_at: int | None = None  # byte offset reading stopped at, for a cut-short file

    @classmethod
    def read(cls, path: str | Path, images: bool = True) -> EpisodeLog:
        """Reads the file (up to its last whole chunk if the writer was killed, with a warning).

        Raises:
            RecordingError: the file is missing, a folder or not an MCAP file.
        """
        log = cls(Path(path))
        records: dict[int, dict] = {}
        for topic, time_ns, msg in read_messages(path, on_truncated=lambda at: setattr(
                log, "truncated_at", at)):
            if not log.topics:  # the first message starts the episode's clock
                log.start_ns = time_ns
            log.topics[topic] = log.topics.get(topic, 0) + 1
            log.end_ns = max(log.end_ns, time_ns)
            s = (time_ns - log.start_ns) * 1e-9
            if topic == t.INSTRUCTION:
                log.instruction = msg.data
            elif topic == t.EPISODE:
                log.scene = json.loads(msg.data)
            elif topic == t.TELEOP_STEPS:
                record = json.loads(msg.data)
                sent = records.get(record["index"], {}).get("sent_s", s)
                records[record["index"]] = {**record, "sent_s": sent}  # newest version wins
            elif topic == t.SKILL_STATUS:
                values = {kv.key: kv.value for kv in msg.values}
                log.statuses.append((s, {**values, "source": msg.name}))
            elif topic == t.PLAN_PROPOSED:
                log.proposals.append((s, msg.data))
            elif topic == t.TELEOP_ACTIVE:
                log.control.append((s, bool(msg.data)))
            elif topic == t.TELEOP_LABEL:
                log.label = json.loads(msg.data)
            elif topic == t.JOINT_STATES:
                log.joints.append((s, dict(zip(msg.name, msg.position))))
            elif topic == t.OBJECTS:
                log.markers.append((s, [_marker(m) for m in msg.markers if m.action == 0]))
            elif images and topic in (t.COLOR, t.SEGMENTATION):
                array = image_array(msg)
                if array is not None:
                    (log.frames if topic == t.COLOR else log.segmentations).append((s, array))
        log.step_records = [records[i] for i in sorted(records)]
        return log

    # -- derived numbers -----------------------------------------------------------------------
    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) * 1e-9

    @property
    def steps(self) -> list[str]:
        """Steps sent to the robot (planner's and operator's), in order."""
        return [r["step"] for r in self.step_records if r["decision"] != "rejected"]

    @property
    def operator_s(self) -> float:
        """Seconds the operator had control."""
        total, since = 0.0, None
        for s, active in self.control:
            if active and since is None:
                since = s
            elif not active and since is not None:
                total, since = total + s - since, None
        return total + (self.duration_s - since if since is not None else 0.0)

    @property
    def autonomy(self) -> float:
        """Fraction of the episode's time under planner control."""
        return 1.0 - self.operator_s / self.duration_s if self.duration_s > 0 else 1.0

    @property
    def interventions(self) -> int:
        """Take-overs plus rejected steps."""
        takeovers = sum(1 for i, (_, active) in enumerate(self.control)
                        if active and (i == 0 or not self.control[i - 1][1]))
        rejected = sum(r["decision"] == "rejected" for r in self.step_records)
        return takeovers + rejected

    @property
    def time_to_done_s(self) -> float | None:
        """When the executor reported `done()` as terminal, None if it never did."""
        for s, status in self.statuses:
            if status.get("source") == "executor" and status.get("status") == "terminal" \
                    and status.get("step", "").strip() == "done()":
                return round(s, 2)
        return None

    @property
    def planner_latency_ms(self) -> list[float]:
        """Per proposal: time since the previous executor outcome (or the start), ms."""
        ends = [s for s, st in self.statuses
                if st.get("source") in ("executor", "operator") and st.get("status") in FINAL]
        latencies = []
        for s, _ in self.proposals:
            before = [e for e in ends if e <= s]
            latencies.append(round((s - (before[-1] if before else 0.0)) * 1e3, 1))
        return latencies

    def skill_outcomes(self) -> list[dict[str, str]]:
        return [{"step": st.get("step", ""), "status": st["status"],
                 "reason": st.get("reason", "")} for _, st in self.statuses
                if st.get("source") == "executor" and st.get("status") in FINAL]

    def latest(self, series: list[tuple[float, Any]], at: float) -> Any:
        """The newest item of `series` at or before `at` seconds (None if there is none)."""
        best = None
        for s, value in series:
            if s > at:
                break
            best = value
        return best


def _marker(m: Any) -> dict[str, Any]:
    meta = json.loads(m.text) if m.text else {}
    p, o, sc = m.pose.position, m.pose.orientation, m.scale
    return {**meta, "position": [p.x, p.y, p.z], "orientation": [o.x, o.y, o.z, o.w],
            "size": [sc.x, sc.y, sc.z]}
