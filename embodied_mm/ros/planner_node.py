"""`planner_node`: closed-loop planning over ROS 2 — one plan step after each finished skill.

Keeps only the newest message of each input (sensor-data QoS), plans from a worker thread
(never inside a callback), refuses inputs older than `max_age_s` (and says so on
`/embodied_mm/skill_status`), and waits for an observation newer than the last skill's end
before planning the next step, so it always plans from the world the skill left behind.

It also answers scene questions: a question on `/embodied_mm/question` gets a JSON reply on
`/embodied_mm/answer` — from the PaLM-E model (`source: palme`) when it plans with one, else
from the perceived object list (`source: perception`); a question outside the grammar, naming
an absent object, or asked without fresh inputs gets `{question, error}`.

A learned planner runs torch on `torch_threads` threads (0: torch's default, one per core).
`configs/ros/planner.yaml` sets 1: in the sim graph the planner shares the cores with the sim,
perception, executor and recorder, and two threads that must meet at every matmul lose more
to whichever node takes a core than a second thread gains.

Joint states and objects are read when a decision needs them (`Ros2Robot`, through
`embodied_mm.ros.latest`), not in a callback per message: a callback per 100 Hz joint state
would keep taking the GIL from the thread running the LLM.

Example:
    python -m embodied_mm.ros.planner_node --ros-args -p overrides:=planner=oracle \
        -p max_age_s:=1.0 -p torch_threads:=1
"""

from __future__ import annotations

import json
import sys
import threading
import time

from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node
from rclpy.subscription import MessageInfo
from std_msgs.msg import String

from embodied_mm.plan_language import parse_step
from embodied_mm.planner import PlannerError, build_planner
from embodied_mm.ros import qos as ros_qos
from embodied_mm.ros import topics
from embodied_mm.ros.conversions import status_from_msg, status_msg
from embodied_mm.ros.node_utils import config_from_params, param, run_node
from embodied_mm.ros.ros2_robot import Ros2Robot, StaleData
from embodied_mm.types import SkillCall

# A node that just started (or was respawned) may get an instruction before the latched scene
# description on /embodied_mm/episode, and a plan published before every subscriber matched
# this publisher is lost (volatile QoS): for this long after start-up it waits for both.
STARTUP_GRACE_S = 5.0
SETTLE_S = 1.0  # the matched subscriber count must hold this long
FRESH_POLL_S = 0.005  # how often it looks for an observation newer than the last skill's end


class PlannerNode(Node):
    """Instruction in, plan steps out, replanning after every skill status."""

    def __init__(self) -> None:
        super().__init__("planner")
        self.cfg = config_from_params(self)
        threads = int(param(self, "torch_threads", 0))
        if threads < 0:  # checked before the (slow) planner loads
            raise ValueError(f"torch_threads must be >= 0 (0: one per core), got {threads}")
        self.planner = build_planner(self.cfg.planner)
        torch = sys.modules.get("torch")  # only a learned planner loads it
        if torch is not None:
            if threads:
                torch.set_num_threads(threads)
            self.get_logger().info(f"planner {self.cfg.planner.name}: "
                                   f"{torch.get_num_threads()} torch thread(s)")
        self.max_age_s = float(param(self, "max_age_s", 1.0))
        # The robot view gives fresh-checked observations; this node never commands it.
        self.inputs = Ros2Robot(self, max_age_s=self.max_age_s,
                                images=self.planner.needs_images)
        self.plan_pub = self.create_publisher(String, topics.PLAN, ros_qos.RELIABLE_QOS)
        self.status_pub = self.create_publisher(DiagnosticStatus, topics.SKILL_STATUS,
                                                ros_qos.RELIABLE_QOS)
        self.create_subscription(String, topics.INSTRUCTION, self._on_instruction,
                                 ros_qos.RELIABLE_QOS)
        self.create_subscription(DiagnosticStatus, topics.SKILL_STATUS, self._on_status,
                                 ros_qos.RELIABLE_QOS)
        self.create_subscription(String, topics.EPISODE, self._on_episode, ros_qos.LATCHED_QOS)
        self.answer_pub = self.create_publisher(String, topics.ANSWER, ros_qos.RELIABLE_QOS)
        self.create_subscription(String, topics.QUESTION, self._on_question, ros_qos.RELIABLE_QOS)
        self._questions: list[str] = []
        self._wake = threading.Condition()
        self._instruction: str | None = None
        self._instruction_sent = 0  # its source timestamp (ns)
        self._episode_info: dict | None = None
        self._pending: str | None = None  # step published, waiting for its status
        self._finished_at = 0.0
        self._done: list[SkillCall] = []
        self._decisions = 0  # steps published for the current instruction
        self._active = False
        self._closing = False
        self._born = time.monotonic()
        threading.Thread(target=self._work, daemon=True).start()

    # -- callbacks: store and wake the worker, nothing else -------------------------------------
    def _on_instruction(self, msg: String, info: MessageInfo) -> None:
        with self._wake:
            self._instruction = msg.data
            self._instruction_sent = info["source_timestamp"]
            self._wake.notify_all()

    def _on_question(self, msg: String) -> None:
        with self._wake:
            self._questions.append(msg.data)
            self._wake.notify_all()

    def _on_episode(self, msg: String, info: MessageInfo) -> None:
        with self._wake:
            self._episode_info = json.loads(msg.data)
            # A scene loaded after the instruction ends that instruction's episode. One sent
            # before it is the scene it is for, even when its message is handled second (an
            # executor takes ready messages of different topics in no particular order).
            if info["source_timestamp"] >= self._instruction_sent:
                self._active = False
                self._pending = None
            self._wake.notify_all()

    def _on_status(self, msg: DiagnosticStatus) -> None:
        status = status_from_msg(msg)
        # `operator`: a teleop console answered the step itself (rejected, or superseded).
        if status.get("source") not in ("executor", "operator") or \
                status["status"] not in topics.STEP_FINISHED:
            return
        with self._wake:
            if self._pending is None or status.get("step") != self._pending:
                return
            if status["status"] == "succeeded":
                self._done.append(parse_step(self._pending))
            if status["status"] in ("terminal", "invalid", "estop"):
                self._active = False
            self._pending = None
            self._finished_at = self._now()
            self._wake.notify_all()

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # -- worker --------------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._closing:
            with self._wake:
                self._wake.wait_for(lambda: self._closing or self._instruction is not None or (
                    self._active and self._pending is None) or self._questions, timeout=0.5)
                questions, self._questions = self._questions, []
            for question in questions:
                self._answer(question)
            with self._wake:
                if self._instruction is not None:
                    self._start(self._instruction)
                    self._instruction = None
                if not self._active or self._pending is not None:
                    continue
            try:
                self._plan_one()
            except Exception as err:  # never let one decision end planning: report, go on
                self.get_logger().error(f"planning failed: {type(err).__name__}: {err}")
                with self._wake:
                    self._active = False
                self._publish_status("", "aborted", f"planner: {type(err).__name__}: {err}")

    def _start(self, instruction: str) -> None:
        self._wake.wait_for(lambda: self._episode_info is not None or self._closing,
                            self._born + STARTUP_GRACE_S - time.monotonic())
        context = None
        if self._episode_info is not None:
            from embodied_mm.tasks import TASKS  # pure Python; only the oracle uses the context

            info = self._episode_info
            context = TASKS[info["task"]].sample(info["seed"], info.get("n_distractors") or 0,
                                                 info.get("template_id"))
        try:
            self.planner.reset(instruction, context)
        except PlannerError as err:
            self._publish_status(instruction, "invalid", f"planner: {err}")
            self._active = False
            return
        self._done, self._pending, self._active, self._decisions = [], None, True, 0
        self._finished_at = self._now()
        self.get_logger().info(f"instruction: {instruction!r}")

    def _plan_one(self) -> None:
        budget = self.cfg.planner.max_steps
        if self._decisions >= budget:  # e.g. a skill that keeps failing: stop, say why
            with self._wake:
                self._active = False
            self._publish_status("", "gave_up", f"{budget} steps planned without done() or "
                                 "cannot() (planner.max_steps); stopped: give the instruction "
                                 "again to retry")
            self.get_logger().warning(f"gave up after {budget} steps (planner.max_steps)")
            return
        try:
            if self.inputs.captured_at("objects") <= self._finished_at:
                # Wait for a scene observed after the last skill ended (or the instruction).
                waited = self._now() - self._finished_at
                if waited > self.max_age_s:
                    seen = self.inputs.captured_at("objects") - self._finished_at
                    raise StaleData(f"objects: no observation for {waited:.1f} s since the "
                                    f"last skill ended (newest is {seen:+.2f} s; old data "
                                    "refused)")
                time.sleep(FRESH_POLL_S)
                return
            obs = self.inputs.get_observation(images=self.planner.needs_images) \
                if self.inputs.is_connected else self._connect_and_observe()
            start = time.perf_counter()
            text = self.planner.next_step(obs, list(self._done))
            latency_ms = (time.perf_counter() - start) * 1e3
        except StaleData as err:
            self._publish_status("", "stale", f"not planning from stale input: {err}")
            time.sleep(0.5)
            return
        self._await_plan_subscribers()
        with self._wake:
            if not self._active:
                return
            self._pending = text
            self._decisions += 1
        self.plan_pub.publish(String(data=text))
        self.get_logger().info(f"plan: {text} ({latency_ms:.1f} ms)")

    def _await_plan_subscribers(self) -> None:
        """Shortly after start-up, waits until every known plan subscriber has matched and
        no new one has turned up for `SETTLE_S`: discovery finds the graph's subscribers one
        by one (a respawned planner saw the episode runner match before the executor, and its
        first step was lost to the executor)."""
        settled_since = None
        while time.monotonic() < self._born + STARTUP_GRACE_S and not self._closing:
            known = len(self.get_subscriptions_info_by_topic(topics.PLAN))
            now = time.monotonic()
            if not known or self.plan_pub.get_subscription_count() < known:
                settled_since = None
            elif settled_since is None or settled_since[1] != known:
                settled_since = (now, known)  # (since when, how many) all matched
            elif now - settled_since[0] >= SETTLE_S:
                return
            time.sleep(0.05)

    def _answer(self, text: str) -> None:
        """Answers one scene question on `/embodied_mm/answer` (see the module doc)."""
        from embodied_mm.data.ask import answer_question
        from embodied_mm.data.vqa import QuestionError, parse_question
        from embodied_mm.planner.palme import PalmePlanner

        model = self.planner.model if isinstance(self.planner, PalmePlanner) else None
        reply: dict = {"question": text}
        try:
            obs = self.inputs.get_observation(images=self.planner.needs_images) \
                if self.inputs.is_connected else self._connect_and_observe()
            question = parse_question(text, obs.object_names)
            reply.update(answer=answer_question(question, obs, model),
                         source="palme" if model is not None else "perception")
        except (QuestionError, StaleData) as err:
            reply["error"] = str(err)
        self.answer_pub.publish(String(data=json.dumps(reply)))

    def _connect_and_observe(self):
        self.inputs.connect(timeout_s=self.max_age_s)
        return self.inputs.get_observation(images=self.planner.needs_images)

    def _publish_status(self, step: str, status: str, reason: str) -> None:
        self.status_pub.publish(status_msg("planner", step, status, reason))
        self.get_logger().warning(f"{status}: {reason}", throttle_duration_sec=2.0)

    def close(self) -> None:
        with self._wake:
            self._closing = True
            self._wake.notify_all()


def main(args: list[str] | None = None) -> int:
    return run_node(PlannerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
