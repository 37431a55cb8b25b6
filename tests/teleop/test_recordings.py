"""Broken recordings: a truncated MCAP is read to its last good chunk with a warning naming the
file and byte offset; a garbage, missing or folder "recording" and a bad `session.json` are
one-line errors (exit 2) in `report` and `export`; `export` replaces a dataset atomically."""

from __future__ import annotations

import json
import logging
import os

import pytest

pytest.importorskip("rclpy")

from test_session_numbers import write_session  # noqa: E402

from embodied_mm.data.dataset import PlanDataset  # noqa: E402
from embodied_mm.data.export import main as export_main  # noqa: E402
from embodied_mm.eval.session_report import main as report_main  # noqa: E402
from embodied_mm.eval.session_report import report  # noqa: E402
from embodied_mm.teleop.episode_log import EpisodeLog  # noqa: E402
from embodied_mm.teleop.mcap_io import RecordingError, read_messages  # noqa: E402

EPISODE = "episode_0001.mcap"


@pytest.fixture
def session_dir(tmp_path):
    """Two labelled episodes (`test_session_numbers`), the first a success."""
    return write_session(tmp_path)


def _cut(path, keep: float) -> int:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    return len(data)


@pytest.fixture
def images_episode(tmp_path):
    """One episode of 40 random 60×80 images: about ten 64 kB chunks."""
    import numpy as np
    from rclpy.serialization import serialize_message

    from embodied_mm.ros import topics
    from embodied_mm.ros.conversions import image_to_msg
    from embodied_mm.teleop.session import Session

    session = Session(tmp_path, "oracle")
    session.start_episode({})
    rng = np.random.default_rng(0)
    for i in range(40):
        session.write(topics.COLOR, serialize_message(image_to_msg(
            rng.integers(0, 255, (60, 80, 3), dtype=np.uint8), "rgb8", i * 0.1)))
    session.close()
    return tmp_path / EPISODE


def test_a_truncated_file_is_read_to_its_last_chunk_with_a_warning(images_episode, caplog):
    path = images_episode
    whole = sum(1 for _ in read_messages(path))
    _cut(path, 0.6)
    with caplog.at_level(logging.WARNING, "embodied_mm.teleop.mcap_io"):
        log = EpisodeLog.read(path)
    assert 0 < sum(log.topics.values()) < whole
    assert log.truncated_at is not None and 0 < log.truncated_at <= path.stat().st_size
    assert f"{path} is truncated or damaged: read up to byte {log.truncated_at} of " \
           f"{path.stat().st_size}" in caplog.text


def test_a_damaged_chunk_stops_reading_there(images_episode, caplog):
    path = images_episode
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)  # zeroed mid-file (a bad disk block)
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, "embodied_mm.teleop.mcap_io"):
        log = EpisodeLog.read(path)
    assert log.truncated_at is not None and log.truncated_at <= middle
    assert "truncated or damaged" in caplog.text


def test_report_shows_the_truncation(session_dir, caplog):
    _cut(session_dir / EPISODE, 0.3)  # into its only chunk: the episode's messages are lost
    with caplog.at_level(logging.WARNING, "embodied_mm.teleop.mcap_io"):
        assert report_main([str(session_dir)]) == 0
    assert EPISODE in caplog.text and "read up to byte" in caplog.text
    rows = json.loads((session_dir / "eval_info.json").read_text())["per_episode"]
    assert rows[0]["truncated_at_byte"] == 0 and rows[1]["truncated_at_byte"] is None


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(b"garbage" * 200), "not an MCAP file"),
    (lambda p: p.unlink(), "recording missing"),
    (lambda p: (p.unlink(), p.mkdir()), "cannot read the recording"),
])
def test_unreadable_recordings_are_errors_in_report_and_export(session_dir, capsys, damage,
                                                               message):
    damage(session_dir / EPISODE)
    with pytest.raises(RecordingError, match=message):
        report(session_dir)
    assert report_main([str(session_dir)]) == 2
    assert export_main([str(session_dir), "--out", str(session_dir / "data")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(message in line and EPISODE in line for line in err)
    assert err[0].startswith("embodied-mm report: error:")
    assert err[1].startswith("embodied-mm export: error:")


@pytest.mark.parametrize("index_text, message", [
    ("{not json", "not valid JSON"), (b"\xff\xfe", "not valid JSON"),
    ('{"format": "embodied_mm.teleop_session/1", "episodes": [{"id": 1, '
     '"file": "../../etc/passwd"}]}', "episode entry 1"),
    ('{"format": "embodied_mm.teleop_session/1", "episodes": 3}', "must be a list"),
    ("[1, 2]", "not an embodied_mm.teleop_session/1 index"),
])
def test_a_bad_session_json_is_a_one_line_error(tmp_path, capsys, index_text, message):
    path = tmp_path / "session.json"
    path.write_bytes(index_text if isinstance(index_text, bytes) else index_text.encode())
    assert report_main([str(tmp_path)]) == 2
    assert export_main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(message in line for line in err), err


def test_export_replaces_a_dataset_atomically(session_dir, tmp_path, capsys):
    out = tmp_path / "data"
    assert export_main([str(session_dir), "--out", str(out), "--image-size", "32"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (session_dir / EPISODE).write_bytes(b"garbage" * 200)  # the next export fails midway
    assert export_main([str(session_dir), "--out", str(out), "--image-size", "32"]) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # untouched
    assert len(PlanDataset(out, "train")) == 3  # and still loads for training
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no leftovers
    assert "not an MCAP file" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--image-size", "0"], "--image-size must be in"),
    (["--out", "/dev/null/x"], "cannot write there"),
])
def test_bad_export_arguments_are_one_line_errors(session_dir, capsys, argv, message):
    assert export_main([str(session_dir), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_export_does_not_replace_a_folder_that_is_not_a_dataset(session_dir, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert export_main([str(session_dir), "--out", str(out)]) == 2
    assert (out / "notes.txt").read_text() == "keep me"
    assert "not a dataset folder" in capsys.readouterr().err
    assert [n for n in os.listdir(tmp_path) if n.startswith(".")] == []  # no staging left
