"""Report numbers and export samples of a session written message by message with known times:
autonomy, interventions, time to done, label vs sim, and which steps become samples."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("rclpy")

from rclpy.serialization import serialize_message  # noqa: E402
from std_msgs.msg import Bool, String  # noqa: E402

from embodied_mm.data.dataset import PlanDataset  # noqa: E402
from embodied_mm.data.export import ExportError, export  # noqa: E402
from embodied_mm.eval.session_report import report  # noqa: E402
from embodied_mm.robots.kinematics import HOME  # noqa: E402
from embodied_mm.ros import topics  # noqa: E402
from embodied_mm.ros.conversions import (  # noqa: E402
    image_to_msg,
    joint_state_msg,
    objects_to_markers,
    status_msg,
)
from embodied_mm.teleop.session import Session  # noqa: E402
from embodied_mm.types import ObjectState  # noqa: E402

S = 1_000_000_000  # ns per s
INSTRUCTION = "place the red block onto the blue block"


def _scene(session: Session, t: float) -> None:
    """One camera frame, segmentation, object list and joint state at `t` s."""
    rgb = np.full((48, 64, 3), 90, np.uint8)
    seg = np.zeros((48, 64), np.int32)
    seg[10:20, 10:20], seg[30:40, 40:50] = 3, 4
    objects = [ObjectState("obj_1", "block", "red", np.array([0.5, 0.0, 0.02]),
                           np.array([0, 0, 0, 1.0]), np.full(3, 0.04), 3),
               ObjectState("obj_2", "block", "blue", np.array([0.4, 0.1, 0.02]),
                           np.array([0, 0, 0, 1.0]), np.full(3, 0.04), 4)]
    for topic, msg in ((topics.COLOR, image_to_msg(rgb, "rgb8", t)),
                       (topics.SEGMENTATION, image_to_msg(seg, "32SC1", t)),
                       (topics.OBJECTS, objects_to_markers(objects, t)),
                       (topics.JOINT_STATES, joint_state_msg(HOME, 0.08, t))):
        session.write(topic, serialize_message(msg), int(t * S))


def _step(session: Session, t: float, index: int, step: str, source: str = "planner",
          decision: str = "auto", intervention: bool = False) -> None:
    record = {"episode": 1, "index": index, "step": step, "source": source,
              "decision": decision, "intervention": intervention, "status": "sent", "t": t}
    session.write(topics.TELEOP_STEPS, serialize_message(String(data=json.dumps(record))),
                  int(t * S))


def _status(session: Session, t: float, step: str, status: str, reason: str = "") -> None:
    session.write(topics.SKILL_STATUS,
                  serialize_message(status_msg("executor", step, status, reason)), int(t * S))


@pytest.fixture
def session_dir(tmp_path):
    return write_session(tmp_path)


def write_session(tmp_path):
    """Episode 1 (0–20 s): pick succeeds; place is interrupted by a take-over at 6 s; the
    operator dictates place at 8 s and hands back at 11 s; the planner's step is rejected once;
    done() at 16 s; labelled success (sim agrees). Episode 2: labelled failure, no sim."""
    session = Session(tmp_path, "palme")
    session.start_episode({"task": "stack", "seed": 7, "instruction": INSTRUCTION})
    write = session.write
    write(topics.TELEOP_ACTIVE, serialize_message(Bool(data=False)), 0)
    write(topics.INSTRUCTION, serialize_message(String(data=INSTRUCTION)), 0)
    _scene(session, 0.5)
    write(topics.PLAN_PROPOSED, serialize_message(String(data="pick(obj_1)")), int(0.7 * S))
    _step(session, 0.8, 0, "pick(obj_1)")
    _status(session, 0.9, "pick(obj_1)", "running")
    _status(session, 4.0, "pick(obj_1)", "succeeded")
    _scene(session, 4.5)
    _step(session, 5.0, 1, "place(obj_2)")
    _status(session, 5.1, "place(obj_2)", "running")
    write(topics.TELEOP_ACTIVE, serialize_message(Bool(data=True)), 6 * S)
    _step(session, 6.0, 1, "place(obj_2)", decision="auto+preempted", intervention=True)
    _status(session, 6.1, "place(obj_2)", "aborted", "operator took over")
    _scene(session, 7.5)
    _step(session, 8.0, 2, "place(obj_2)", "operator", "operator", True)
    _status(session, 8.1, "place(obj_2)", "running")
    _status(session, 10.0, "place(obj_2)", "succeeded")
    write(topics.TELEOP_ACTIVE, serialize_message(Bool(data=False)), 11 * S)
    _scene(session, 12.0)
    _step(session, 13.0, 3, "pick(obj_2)", decision="rejected", intervention=True)
    _step(session, 15.0, 4, "done()")
    _status(session, 16.0, "done()", "terminal")
    write(topics.TELEOP_LABEL, serialize_message(String(data=json.dumps(
        {"episode": 1, "label": "success", "note": "had to place it", "sim_success": True}))),
        20 * S)
    session.finish_episode({"label": "success", "sim_success": True})
    session.start_episode({"task": "stack", "seed": 8, "instruction": INSTRUCTION})
    write(topics.INSTRUCTION, serialize_message(String(data=INSTRUCTION)), 100 * S)
    _scene(session, 101.0)
    write(topics.TELEOP_LABEL, serialize_message(String(data=json.dumps(
        {"episode": 2, "label": "failure", "note": "", "sim_success": None}))), 110 * S)
    session.finish_episode({"label": "failure"})
    session.close()
    return tmp_path


def test_report_numbers(session_dir):
    info = report(session_dir)
    first, second = info["per_episode"]
    assert first["autonomy"] == pytest.approx(1 - 5 / 20)  # operator from 6 s to 11 s
    assert first["interventions"] == 2  # one take-over, one rejected step
    assert first["intervention_steps"] == [1, 2, 3]
    assert first["time_to_done_s"] == 16.0
    assert first["steps"] == ["pick(obj_1)", "place(obj_2)", "place(obj_2)", "done()"]
    assert first["success"] and first["label_agrees_sim"] is True and first["outcome"] == "done"
    assert not second["success"] and second["label_agrees_sim"] is None
    overall = info["overall"]
    assert overall["success_rate"] == 0.5 and overall["autonomous_success_rate"] == 0.0
    assert overall["interventions_per_episode"] == 1.0
    assert info["label_vs_sim"] == {"n_episodes": 1, "agree": 1, "disagree_episodes": []}
    assert (session_dir / "media" / "episode_0001.webm").stat().st_size > 0


def test_export_keeps_successful_steps_and_the_operators_correction(session_dir, tmp_path):
    index = export(session_dir, tmp_path / "data", image_size=32)
    assert index["skipped_episodes"] == [2]  # labelled failure: not a demonstration
    data = PlanDataset(tmp_path / "data", "train")
    got = [(r["target"], r["done"], r["source"]) for r in data.records]
    assert got == [("pick(obj_1)", [], "planner"),
                   ("place(obj_2)", ["pick(obj_1)"], "operator"),  # the correction
                   ("done()", ["pick(obj_1)", "place(obj_2)"], "planner")]
    sample = data[1]
    assert sample.instruction == INSTRUCTION
    assert sample.scene.masks.shape == (2, 32, 32) and sample.scene.masks[0].sum() > 0


def test_export_needs_a_successful_episode(tmp_path):
    Session(tmp_path, "oracle").close()
    with pytest.raises(ExportError, match="no episode labelled success"):
        export(tmp_path, tmp_path / "data")
