"""A teleoperated evaluation session on disk: one MCAP per episode and `session.json`.

Layout of a session folder:

    session.json             # index: planner, episodes with file, task, label, numbers
    episode_0001.mcap        # one episode (ROS 2 CDR messages, see RECORDED_TOPICS)
    episode_0002.mcap …

`session.json` is rewritten atomically whenever an episode starts or ends, so it always
parses; an episode whose process died keeps `"status": "recording"` and its MCAP is read up to
its last chunk.

Example:
    python -c "import json; print(json.load(open('outputs/teleop/session.json'))['episodes'])"
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from embodied_mm.ros import topics
from embodied_mm.teleop.mcap_io import EpisodeWriter

INDEX_FILE = "session.json"
FORMAT = "embodied_mm.teleop_session/1"
_EPISODE_FILE = re.compile(r"[\w.-]+\.mcap")  # a plain name: no folder, no "..", no "/"

# Everything an episode file may hold (topic -> type); images are rate-limited by the recorder.
RECORDED_TOPICS: dict[str, str] = {
    t: topics.TOPIC_TYPES[t] for t in (
        topics.INSTRUCTION, topics.EPISODE, topics.PLAN_PROPOSED, topics.PLAN,
        topics.SKILL_STATUS, topics.COLOR, topics.SEGMENTATION, topics.OBJECTS,
        topics.JOINT_STATES, topics.ARM_TRAJECTORY, topics.GRIPPER_TRAJECTORY,
        topics.TELEOP_TWIST, topics.TELEOP_GRIPPER, topics.TELEOP_ACTIVE, topics.ESTOP,
        topics.TELEOP_STEPS, topics.TELEOP_LABEL)}


def load_index(session_dir: str | Path) -> dict[str, Any]:
    """Reads and checks `session.json`.

    Raises:
        FileNotFoundError: the folder has no `session.json`.
        ValueError: it is not valid JSON or not a session index; the text names the file.
    """
    path = Path(session_dir) / INDEX_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{session_dir} is not a teleop session (no {INDEX_FILE})")
    try:
        index = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as err:  # also invalid UTF-8
        raise ValueError(f"{path}: not valid JSON ({str(err)[:80]})") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise ValueError(f"{path} is not an {FORMAT} index")
    episodes = index.get("episodes")
    if not isinstance(episodes, list):
        raise ValueError(f"{path}: 'episodes' must be a list")
    for i, entry in enumerate(episodes):
        if not (isinstance(entry, dict) and isinstance(entry.get("id"), int)
                and isinstance(entry.get("file"), str)
                and _EPISODE_FILE.fullmatch(entry["file"])):
            raise ValueError(f"{path}: episode entry {i + 1} needs an integer id and a file "
                             "named like episode_0001.mcap in the session folder")
    return index


class Session:
    """Owns the session folder: opens, writes and finalises episode files, keeps the index.

    Args:
        out_dir: the session folder (created; an existing session there is continued).
        planner: the planner under evaluation, recorded in the index.
    """

    def __init__(self, out_dir: str | Path, planner: str) -> None:
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            self.index = load_index(self.dir)
        except FileNotFoundError:
            self.index = {"format": FORMAT, "planner": planner,
                          "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "episodes": []}
        self.writer: EpisodeWriter | None = None
        self.entry: dict[str, Any] | None = None
        self._lock = threading.RLock()  # ROS callbacks write while the console starts/ends
        self._save()

    def start_episode(self, info: dict[str, Any]) -> dict[str, Any]:
        """Finalises any open episode and opens the next file; returns its index entry.

        Args:
            info: what is known at the start: task, seed, instruction, template_id, ….
        """
        with self._lock:
            self.finish_episode({})
            number = max((e["id"] for e in self.index["episodes"]), default=0) + 1
            name = f"episode_{number:04d}.mcap"
            self.writer = EpisodeWriter(self.dir / name, RECORDED_TOPICS)
            self.entry = {"id": number, "file": name, **info, "started_at": time.time(),
                          "ended_at": None, "status": "recording", "label": None, "note": ""}
            self.index["episodes"].append(self.entry)
            self._save()
            return self.entry

    def write(self, topic: str, data: bytes, log_time_ns: int | None = None) -> None:
        """Adds a serialized message to the open episode (dropped when none is open)."""
        with self._lock:
            if self.writer is not None:
                self.writer.write(topic, data,
                                  time.time_ns() if log_time_ns is None else log_time_ns)

    def finish_episode(self, summary: dict[str, Any]) -> None:
        """Closes the open episode's file and records `summary` (label, numbers) in the index."""
        with self._lock:
            if self.writer is None or self.entry is None:
                return
            self.writer.close()
            self.entry.update(summary, ended_at=time.time(), status="finalised",
                              messages=self.writer.count)
            self.writer, self.entry = None, None
            self._save()

    def close(self) -> None:
        self.finish_episode({})

    def _save(self) -> None:
        path = self.dir / INDEX_FILE
        tmp = path.with_name(f".{INDEX_FILE}.tmp")
        tmp.write_text(json.dumps(self.index, indent=2))
        os.replace(tmp, path)
