"""`teleop_console`: the operator console node — web page, step gate, take-over, labels, MCAP.

The ROS side of the console; the page, access, session files and episode log it uses are the
ROS-free modules of `embodied_mm/teleop/`.

Sits between the planner and the executor: the planner's steps arrive on
`/embodied_mm/plan/proposed` (the teleop launch file remaps the planner's output there) and are
forwarded to `/embodied_mm/plan` at once, or after the operator approves them (step-approval
mode). Taking over publishes `/embodied_mm/teleop/active` (the executor stops the running skill
and follows jog commands); steps the planner proposes meanwhile are held and, on hand-back,
answered so that it replans from the world the operator left. Every episode (from "run" to
the operator's label) is recorded to its own MCAP in the session folder (`session.py`).

The access token is read from the file named by the `token_file` parameter (mode 0600, as
`embodied-mm teleop` writes it); with `auto` (the default) a random token is written to
`OUT_DIR/console_token` (0600). The token never goes to the ROS log, a topic or a parameter:
the log names the page's address without it, and the file to read it from.

Example:
    python -m embodied_mm.ros.teleop_console --ros-args -p out_dir:=outputs/teleop/s1 \
        -p port:=8765 -p approval:=true     # token in outputs/teleop/s1/console_token
"""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger
from visualization_msgs.msg import MarkerArray

from embodied_mm.plan_language import PlanError, parse_step
from embodied_mm.ros import qos as ros_qos
from embodied_mm.ros import topics
from embodied_mm.ros.conversions import (
    MessageError,
    image_from_msg,
    objects_from_markers,
    status_from_msg,
    status_msg,
    to_time,
)
from embodied_mm.ros.node_utils import config_from_params, param, run_node
from embodied_mm.ros.session_recorder import SessionRecorder
from embodied_mm.teleop.access import (
    console_url,
    exposed,
    new_token,
    read_token_file,
    write_token_file,
)
from embodied_mm.teleop.live_episode import LiveEpisode
from embodied_mm.teleop.overlay import annotate
from embodied_mm.teleop.session import Session

JOG_LINEAR = 0.1  # m/s for a full key press; the executor's jog limits apply on top
JOG_YAW = 0.6  # rad/s


class ConsoleNode(Node):
    """The console's ROS side; `run_command` runs the page's commands, `snapshot` feeds it."""

    def __init__(self) -> None:
        super().__init__("teleop_console")
        cfg = config_from_params(self)
        host = str(param(self, "host", "127.0.0.1"))
        port = int(param(self, "port", 8765))
        token_file = str(param(self, "token_file", "auto"))
        out_dir = str(param(self, "out_dir", "")) or \
            f"outputs/teleop/session_{time.strftime('%Y%m%d_%H%M%S')}"
        self.approval = bool(param(self, "approval", False))
        from embodied_mm.tasks import (
            TASKS,  # pure Python: the families a sim scene can be loaded from
        )

        self.tasks = sorted(TASKS)
        self.session = Session(out_dir, cfg.planner.name)
        if token_file in ("", "auto"):  # standalone: a new token, readable by this user only
            token_file = str(self.session.dir / "console_token")
            Path(token_file).unlink(missing_ok=True)
            write_token_file(token_file, new_token())
        token = read_token_file(token_file)
        self.recorder = SessionRecorder(self, self.session, float(param(self, "image_hz", 4.0)))
        self._lock = threading.RLock()
        self.mode = "planner"
        self.estop = False
        self.scene: dict[str, Any] | None = None
        self.episode: LiveEpisode | None = None
        self.proposed: str | None = None
        self.skill: dict[str, str] = {}
        self._images: dict[str, Image] = {}
        self._markers: MarkerArray | None = None

        pub = self.create_publisher
        self.instruction_pub = pub(String, topics.INSTRUCTION, ros_qos.RELIABLE_QOS)
        self.plan_pub = pub(String, topics.PLAN, ros_qos.RELIABLE_QOS)
        self.status_pub = pub(DiagnosticStatus, topics.SKILL_STATUS, ros_qos.RELIABLE_QOS)
        self.active_pub = pub(Bool, topics.TELEOP_ACTIVE, ros_qos.LATCHED_QOS)
        self.twist_pub = pub(TwistStamped, topics.TELEOP_TWIST, ros_qos.RELIABLE_QOS)
        self.gripper_pub = pub(Bool, topics.TELEOP_GRIPPER, ros_qos.RELIABLE_QOS)
        self.estop_pub = pub(Bool, topics.ESTOP, ros_qos.LATCHED_QOS)
        self.request_pub = pub(String, topics.EPISODE_REQUEST, ros_qos.RELIABLE_QOS)
        self.steps_pub = pub(String, topics.TELEOP_STEPS, ros_qos.RELIABLE_QOS)
        self.label_pub = pub(String, topics.TELEOP_LABEL, ros_qos.RELIABLE_QOS)
        sub = self.create_subscription
        sub(Image, topics.COLOR, lambda m: self._images.__setitem__("rgb", m), ros_qos.LATEST_QOS)
        sub(Image, topics.SEGMENTATION, lambda m: self._images.__setitem__("seg", m),
            ros_qos.LATEST_QOS)
        sub(MarkerArray, topics.OBJECTS, lambda m: setattr(self, "_markers", m),
            ros_qos.RELIABLE_QOS)
        sub(String, topics.EPISODE, self._on_scene, ros_qos.LATCHED_QOS)
        sub(String, topics.PLAN_PROPOSED, self._on_proposed, ros_qos.RELIABLE_QOS)
        sub(DiagnosticStatus, topics.SKILL_STATUS, self._on_status, ros_qos.RELIABLE_QOS)
        sub(Bool, topics.ESTOP, lambda m: setattr(self, "estop", bool(m.data)),
            ros_qos.LATCHED_QOS)
        self.reset_client = self.create_client(Trigger, topics.RESET)
        self.success_client = self.create_client(Trigger, topics.CHECK_SUCCESS)
        self._wait_for_recorder(self.instruction_pub, self.plan_pub, self.active_pub,
                                self.twist_pub, self.gripper_pub, self.estop_pub)
        self.active_pub.publish(Bool(data=False))

        from embodied_mm.teleop.web import ConsoleServer  # aiohttp: only the console needs it

        self.server = ConsoleServer(self, token, host, port)
        self.server.start()
        # The address without its token: the ROS log goes to a file and to /rosout.
        self.get_logger().info(f"operator console on {console_url(host, self.server.port)} "
                               f"(token in {token_file}; session {out_dir})")
        if exposed(host):
            self.get_logger().warning(f"the console listens on {host}: other machines can "
                                      "reach it (plain HTTP; the token is the only guard)")

    def _wait_for_recorder(self, *publishers, timeout_s: float = 5.0) -> None:
        """Waits until the recorder's subscriptions match this node's own publishers, so the
        first commands of a session are recorded too (discovery takes a moment)."""
        deadline = time.monotonic() + timeout_s
        readers = [self.recorder.subscriptions[p.topic_name] for p in publishers]
        while any(p.get_subscription_count() == 0 for p in publishers) or \
                any(r.get_publisher_count() == 0 for r in readers):
            if time.monotonic() > deadline:
                self.get_logger().warning("recorder not yet matched to the console's topics")
                return
            time.sleep(0.05)

    # -- ROS callbacks -------------------------------------------------------------------------
    def _on_scene(self, msg: String) -> None:
        with self._lock:
            self.scene = json.loads(msg.data)

    def _on_proposed(self, msg: String) -> None:
        with self._lock:
            if self.mode == "operator" or self.approval:
                self.proposed = msg.data  # waits for hand-back or approval
            else:
                self._forward(msg.data, "planner", "auto")

    def _on_status(self, msg: DiagnosticStatus) -> None:
        status = status_from_msg(msg)
        if status.get("source") != "executor":
            return
        with self._lock:
            self.skill = {k: status.get(k, "") for k in ("step", "status", "reason")}
            if self.episode is not None and self.episode.ended is None:
                self.episode.on_status(status.get("step", ""), status["status"],
                                       status.get("reason", ""))

    # -- commands (from the web thread) --------------------------------------------------------
    def run_command(self, command: dict[str, Any]) -> dict[str, Any]:
        """Runs one page command; returns `{"ok": True, ...}` or `{"error": reason}`."""
        name = command["cmd"]
        action = getattr(self, f"_cmd_{name.replace('-', '_')}", None)
        if action is None:
            return {"error": f"unknown command {name!r}"}
        if name == "label":  # ask the sim first: its reply needs the ROS thread, not our lock
            command = {**command, "sim_success": self._sim_success()}
        try:
            with self._lock:
                return {"ok": True, **(action(command) or {})}
        except CommandError as err:
            return {"error": str(err)}

    def _cmd_run(self, c: dict) -> dict:
        instruction = str(c.get("instruction") or "").strip()
        if not instruction:
            raise CommandError("type an instruction first")
        if len(instruction) > 500:
            raise CommandError("instruction too long (500 characters at most)")
        if self.mode == "operator":
            self._cmd_handback({})
        scene = self.scene or {}
        entry = self.session.start_episode({
            "instruction": instruction, "task": scene.get("task"), "seed": scene.get("seed"),
            "template_id": scene.get("template_id"),
            "n_distractors": scene.get("n_distractors"), "approval": self.approval})
        self.recorder.write_latched()
        self.episode = LiveEpisode(entry["id"], instruction)
        self.proposed = None
        self.instruction_pub.publish(String(data=instruction))
        return {"episode": entry["id"]}

    def _cmd_approval(self, c: dict) -> None:
        self.approval = bool(c.get("on"))
        if not self.approval and self.proposed and self.mode == "planner":
            self._cmd_approve({})

    def _cmd_approve(self, c: dict) -> None:
        step = self._take_proposed()
        self._forward(step, "planner", "approved")

    def _cmd_reject(self, c: dict) -> None:
        step = self._take_proposed()
        self._record_step(step, "planner", "rejected", intervention=True, status="rejected")
        # The planner waits for this step's outcome: tell it, so it plans again.
        self.status_pub.publish(status_msg("operator", step, "failed", "rejected by the operator"))

    def _cmd_takeover(self, c: dict) -> None:
        if self.mode == "operator":
            raise CommandError("the operator already has control")
        self.mode = "operator"
        self.active_pub.publish(Bool(data=True))
        if self.episode is not None and self.episode.ended is None:
            for record in self.episode.take_over():  # steps the take-over interrupted
                self._publish_step(record)

    def _cmd_handback(self, c: dict) -> None:
        if self.mode != "operator":
            raise CommandError("the planner already has control")
        self._publish_twist(0.0, 0.0, 0.0, 0.0)
        self.mode = "planner"
        self.active_pub.publish(Bool(data=False))
        if self.episode is not None and self.episode.ended is None:
            self.episode.hand_back()
        if self.proposed is not None:  # planned before the operator's changes: replan
            step, self.proposed = self.proposed, None
            self.status_pub.publish(status_msg("operator", step, "failed",
                                               "superseded: the operator had control"))

    def _cmd_jog(self, c: dict) -> None:
        self._require_operator()
        try:
            x, y, z = (float(v) for v in c.get("linear", (0, 0, 0)))
            yaw = float(c.get("yaw", 0.0))
        except (TypeError, ValueError):
            raise CommandError("jog needs linear: [x, y, z] and yaw, numbers in -1..1") from None
        values = (x, y, z, yaw)
        if not all(math.isfinite(v) and -1.0 <= v <= 1.0 for v in values):
            raise CommandError(f"jog values must be finite and within -1..1, got {values}")
        self._publish_twist(x * JOG_LINEAR, y * JOG_LINEAR, z * JOG_LINEAR, yaw * JOG_YAW)

    def _cmd_gripper(self, c: dict) -> None:
        self._require_operator()
        self.gripper_pub.publish(Bool(data=bool(c.get("close"))))

    def _cmd_step(self, c: dict) -> None:
        self._require_operator()
        text = str(c.get("step") or "").strip()
        names = [o.name for o in objects_from_markers(self._markers)] if self._markers else None
        try:
            parse_step(text, names)
        except PlanError as err:
            raise CommandError(f"not a valid step: {err}") from None
        self._forward(text, "operator", "operator", intervention=True)

    def _cmd_estop(self, c: dict) -> None:
        self.estop = True
        self.estop_pub.publish(Bool(data=True))

    def _cmd_release(self, c: dict) -> None:
        self.estop = False
        self.estop_pub.publish(Bool(data=False))

    def _cmd_reset(self, c: dict) -> None:
        if self.mode == "operator":
            self._cmd_handback({})
        self._end_episode(None, "")
        if not self.reset_client.service_is_ready():
            raise CommandError(f"no {topics.RESET} service (is the sim running?)")
        self.reset_client.call_async(Trigger.Request())

    def _cmd_scene(self, c: dict) -> None:
        try:
            request = {"task": str(c["task"]), "seed": int(c["seed"])}
        except (KeyError, TypeError, ValueError):
            raise CommandError("scene needs task (a family name) and seed (an integer)") \
                from None
        if not 0 <= request["seed"] < 2**32:
            raise CommandError(f"seed must be in 0..{2**32 - 1}, got {request['seed']}")
        if request["task"] not in self.tasks:
            raise CommandError(f"unknown task {request['task']!r}; one of "
                               f"{', '.join(self.tasks)}")
        self._end_episode(None, "")
        self.request_pub.publish(String(data=json.dumps(request)))

    def _cmd_label(self, c: dict) -> dict:
        label = c.get("label")
        if label not in ("success", "failure"):
            raise CommandError('label must be "success" or "failure"')
        if self.episode is None or self.episode.ended is not None:
            raise CommandError("no episode to label: run an instruction first")
        note = str(c.get("note") or "")[:1000]
        summary = self._end_episode(label, note, c.get("sim_success"))
        return {"episode": summary}

    # -- helpers -------------------------------------------------------------------------------
    def _require_operator(self) -> None:
        if self.mode != "operator":
            raise CommandError("take over first: jogging and dictated steps need control")

    def _take_proposed(self) -> str:
        if self.proposed is None:
            raise CommandError("no planned step is waiting")
        if self.mode == "operator":
            raise CommandError("hand back before approving the planner's steps")
        step, self.proposed = self.proposed, None
        return step

    def _forward(self, step: str, source: str, decision: str,
                 intervention: bool = False) -> None:
        self._record_step(step, source, decision, intervention)
        self.plan_pub.publish(String(data=step))

    def _record_step(self, step: str, source: str, decision: str, intervention: bool,
                     status: str = "sent") -> None:
        if self.episode is not None and self.episode.ended is None:
            self._publish_step(self.episode.add_step(step, source, decision, intervention,
                                                     status))

    def _publish_step(self, record: dict) -> None:
        msg = String(data=json.dumps({"episode": self.episode.id, **record}))
        self.session.write(topics.TELEOP_STEPS, serialize_message(msg))
        self.steps_pub.publish(msg)

    def _publish_twist(self, x: float, y: float, z: float, yaw: float) -> None:
        msg = TwistStamped()
        msg.header.stamp = to_time(self.get_clock().now().nanoseconds * 1e-9)
        msg.header.frame_id = "panda_link0"
        msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = x, y, z
        msg.twist.angular.z = yaw
        self.twist_pub.publish(msg)

    def _sim_success(self) -> bool | None:
        """The sim's verdict on the world state, None where no sim answers (hardware)."""
        if not self.success_client.service_is_ready():
            return None
        future = self.success_client.call_async(Trigger.Request())
        deadline = time.monotonic() + 3.0
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.02)
        return bool(future.result().success) if future.done() else None

    def _end_episode(self, label: str | None, note: str,
                     sim_success: bool | None = None) -> dict | None:
        """Labels (or abandons, label None) the open episode and finalises its file."""
        episode = self.episode
        if episode is None or episode.ended is not None:
            return None
        summary = episode.end(label, note, sim_success)
        msg = String(data=json.dumps({"episode": episode.id, **summary}))
        self.session.write(topics.TELEOP_LABEL, serialize_message(msg))
        if self.context.ok():  # not while shutting down (SIGINT/SIGTERM): the file matters
            self.label_pub.publish(msg)
        self.session.finish_episode(summary)
        return summary

    # -- for the page --------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            episode = self.episode.snapshot() if self.episode is not None else None
            scene = self.scene or {}
            return {"mode": self.mode, "approval": self.approval, "estop": self.estop,
                    "proposed": self.proposed, "skill": self.skill, "episode": episode,
                    "scene": {k: scene.get(k) for k in ("task", "seed", "instruction")},
                    "session": str(self.session.dir),
                    "recorded": len(self.session.index["episodes"]),
                    "messages": self.session.writer.count if self.session.writer else 0,
                    "tasks": self.tasks}

    def pages_closed(self) -> None:
        """Fails safe when the operator's page goes away during a take-over: nobody can stop
        a jog any more, so the jog is zeroed and the e-stop engaged (latched until released
        from a console)."""
        with self._lock:
            if self.mode != "operator" or self.estop:
                return
            self.get_logger().warning("the operator's console disconnected during a "
                                      "take-over: E-STOP engaged; release it from the console")
            self._publish_twist(0.0, 0.0, 0.0, 0.0)
            self._cmd_estop({})

    def frame_jpeg(self) -> bytes | None:
        rgb_msg, seg_msg, markers = self._images.get("rgb"), self._images.get("seg"), \
            self._markers
        if rgb_msg is None:
            return None
        try:
            rgb = image_from_msg(rgb_msg, "rgb8")
            seg = image_from_msg(seg_msg, "32SC1") if seg_msg is not None else None
            objects = objects_from_markers(markers) if markers is not None else []
        except MessageError as err:
            self.get_logger().warning(f"camera view: {err}", throttle_duration_sec=5.0)
            return None
        return annotate(np.ascontiguousarray(rgb), seg, objects)

    def close(self) -> None:
        """Stops the web server (no command can race what follows), then finalises the open
        episode's file and the session index, whatever fails first."""
        try:
            self.server.stop()
        finally:
            try:
                with self._lock:
                    self._end_episode(None, "")
            finally:
                self.session.close()


class CommandError(ValueError):
    """A page command that cannot be carried out now; the text tells the operator why."""


def main(args: list[str] | None = None) -> int:
    return run_node(ConsoleNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
