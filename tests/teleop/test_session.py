"""Session files: index kept atomically, episode MCAPs readable by ROS 2 tools' reader, and a
writer killed mid-episode leaves a file readable up to its last chunk."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("rclpy")

from rclpy.serialization import serialize_message  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from embodied_mm.ros import topics  # noqa: E402
from embodied_mm.ros.conversions import image_to_msg  # noqa: E402
from embodied_mm.teleop.episode_log import EpisodeLog  # noqa: E402
from embodied_mm.teleop.session import INDEX_FILE, Session, load_index  # noqa: E402


def test_episodes_get_their_own_file_and_index_entry(tmp_path):
    session = Session(tmp_path, "oracle")
    session.start_episode({"instruction": "stack it", "task": "stack", "seed": 3})
    session.write(topics.INSTRUCTION, serialize_message(String(data="stack it")))
    session.write(topics.TELEOP_STEPS, serialize_message(String(data=json.dumps({
        "index": 0, "step": "pick(obj_1)", "source": "operator", "decision": "operator",
        "intervention": True, "status": "sent"}))))
    session.start_episode({"instruction": "again"})  # finalises the first one
    session.close()
    index = load_index(tmp_path)
    assert [e["file"] for e in index["episodes"]] == ["episode_0001.mcap", "episode_0002.mcap"]
    assert all(e["status"] == "finalised" for e in index["episodes"])
    log = EpisodeLog.read(tmp_path / "episode_0001.mcap")
    assert log.instruction == "stack it"
    assert log.step_records[0]["intervention"] and log.steps == ["pick(obj_1)"]
    # A later console continues the numbering in the same folder.
    assert Session(tmp_path, "oracle").start_episode({})["file"] == "episode_0003.mcap"


def test_mcap_is_readable_with_the_ros2_profile(tmp_path):
    from mcap.reader import make_reader

    session = Session(tmp_path, "oracle")
    session.start_episode({})
    session.write(topics.COLOR, serialize_message(image_to_msg(np.zeros((4, 6, 3), np.uint8),
                                                               "rgb8")))
    session.close()
    with open(tmp_path / "episode_0001.mcap", "rb") as f:
        reader = make_reader(f)
        summary = reader.get_summary()
        header = reader.get_header()
    assert header.profile == "ros2"
    assert {s.name for s in summary.schemas.values()} == {"sensor_msgs/msg/Image"}
    assert {c.message_encoding for c in summary.channels.values()} == {"cdr"}


WRITER = """
import sys, time, numpy as np
from rclpy.serialization import serialize_message
from embodied_mm.ros import topics
from embodied_mm.ros.conversions import image_to_msg
from embodied_mm.teleop.session import Session
s = Session(sys.argv[1], "oracle"); s.start_episode({"instruction": "x"})
rng = np.random.default_rng(0)
for i in range(40):
    s.write(topics.COLOR, serialize_message(image_to_msg(
        rng.integers(0, 255, (60, 80, 3), dtype=np.uint8), "rgb8", i * 0.1)))
print("written", flush=True)
time.sleep(60)
"""


def test_a_killed_writer_leaves_a_readable_file(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "written"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    time.sleep(0.1)
    index = json.loads((tmp_path / INDEX_FILE).read_text())
    assert index["episodes"][0]["status"] == "recording"  # never finalised
    log = EpisodeLog.read(tmp_path / "episode_0001.mcap")
    # 40 images of 14 kB in 64 kB chunks: all full chunks are on disk.
    assert 30 <= len(log.frames) <= 40
    assert log.frames[0][1].shape == (60, 80, 3)
