"""`episode_runner`: drives an evaluation through the ROS graph and shuts it down when done.

For each episode (task family × seeds, or an `eval.suite` file) it asks the sim for the scene,
waits for perception to see it, sends the instruction, follows plan steps and skill statuses
until `done()`/`cannot()`/an invalid step or the timeout, asks the sim whether the task
succeeded, and finally writes `eval_info.json` and `report.html` like `embodied-mm eval`.
With `episodes:=0` it does nothing and the graph waits for operator instructions.

One bad scene never ends an evaluation: an episode the graph cannot run is recorded as a
failure with its outcome and the reason (the last `skill_outcomes` entry), and the next one
starts. Outcomes of such episodes:

- `sim_timeout`: the sim did not load the scene within `sim_wait_s`;
- `perception_timeout`: perception published no objects of the new scene (the sim's object
  names, seen in a frame taken after the scene loaded) within `perception_wait_s`;
- `skill_timeout`: one skill ran longer than `skill_timeout_s` (the skills' own limit is 25 s);
- `timeout`: the episode ran longer than `episode_timeout_s`;
- `success_check_timeout`: the sim did not answer the success check within `success_wait_s`;
- `aborted`: the planner node (parameter `planner_node`, default `planner`) restarted or left
  mid-episode; the runner lets the running skill end instead of waiting for the timeout, and
  a respawned planner takes the next episode.

Before the next episode starts, a skill still running from a failed one gets up to
`ABORT_GRACE_S` to end, and every plan and status event of the old episode is dropped. Only a
sim whose success service never appears at start-up ends the evaluation (exit code 1).

Example:
    python -m embodied_mm.ros.episode_runner --ros-args -p overrides:="['task=all']" \
        -p episodes:=2 -p out_dir:=/tmp/r
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import rclpy
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node
from std_msgs.msg import String
from std_srvs.srv import Trigger
from visualization_msgs.msg import MarkerArray

from embodied_mm.config.schema import Config
from embodied_mm.eval.report import summarize, write_report
from embodied_mm.eval.rollout import EpisodeReport, EpisodeSpec
from embodied_mm.eval.suite import load_suite
from embodied_mm.ros import qos as ros_qos
from embodied_mm.ros import topics
from embodied_mm.ros.conversions import from_time, objects_from_markers, status_from_msg
from embodied_mm.ros.node_utils import config_from_params, param, run_node

ENDS = {"terminal", "invalid", "estop"}
# Planner statuses that end an episode, and the outcome recorded: out of steps, or it crashed.
PLANNER_ENDS = {"gave_up": "step_budget", "aborted": "aborted"}
STEPS_RETRY_S = 0.05  # s between success checks while the sim has not got every plan step
LIVENESS_S = 0.5  # how often the runner checks that the episode's planner is still the same
ABORT_GRACE_S = 30.0  # s the running skill gets to end after the planner went away


# What the runner compares between the sim's scene and perception's: the sorted object names
# and the sorted (kind, colour) pairs, separately (colour perception names objects its own way).
Scene = tuple[tuple[str, ...], tuple[tuple[str, str], ...]]


def _scene(objects: list[tuple[str, str, str]]) -> Scene:
    """`Scene` of (name, kind, colour) triples."""
    return (tuple(sorted(n for n, _, _ in objects)),
            tuple(sorted((k, c) for _, k, c in objects)))


class EpisodeFailed(Exception):
    """An episode the graph could not run to its end; the evaluation goes on without it."""

    def __init__(self, outcome: str, reason: str) -> None:
        super().__init__(reason)
        self.outcome, self.reason = outcome, reason


def graph_episodes(cfg: Config, episodes: int) -> list[EpisodeSpec]:
    """`episodes` in total: a suite file as given, else seeds `cfg.seed…` cycling through the
    task families when `task=all` (so `episodes:=8` covers each of the 8 families once)."""
    from embodied_mm.tasks import TASKS

    if cfg.eval.suite:
        return load_suite(cfg.eval.suite, TASKS)
    names = list(TASKS) if cfg.task.name == "all" else [cfg.task.name]
    return [EpisodeSpec(names[i % len(names)], cfg.seed + i, None, cfg.task.n_distractors,
                        cfg.task.template_id) for i in range(episodes)]


class EpisodeRunnerNode(Node):
    """Runs the episodes and sets `exit_code` (0 = all episodes were run and reported)."""

    def __init__(self) -> None:
        super().__init__("episode_runner")
        cfg = config_from_params(self)
        episodes = int(param(self, "episodes", 0))
        self.timeout_s = float(param(self, "episode_timeout_s", 120.0))
        self.sim_wait_s = float(param(self, "sim_wait_s", 20.0))
        self.perception_wait_s = float(param(self, "perception_wait_s", 20.0))
        self.skill_timeout_s = float(param(self, "skill_timeout_s", 60.0))
        self.success_wait_s = float(param(self, "success_wait_s", 10.0))
        self.planner_node = str(param(self, "planner_node", "planner"))
        # A learned planner subscribes once its model is loaded (tens of seconds on a busy CPU).
        self.planner_wait_s = float(param(self, "planner_wait_s", 120.0))
        self.out_dir = Path(param(self, "out_dir", cfg.eval.out_dir))
        self.planner_name = cfg.planner.name
        self.specs = graph_episodes(cfg, episodes)
        self.exit_code = 0
        self._events: list[tuple[str, dict]] = []
        self._cond = threading.Condition()
        self._episode: dict | None = None
        self._loaded_at = 0.0  # s (ROS clock) when the runner got the current scene
        self._objects: tuple[float, Scene] | None = None  # newest perceived: capture stamp
        self._skill_running = False  # the executor's last status was `running`
        self.request_pub = self.create_publisher(String, topics.EPISODE_REQUEST,
                                                 ros_qos.RELIABLE_QOS)
        self.instruction_pub = self.create_publisher(String, topics.INSTRUCTION,
                                                     ros_qos.RELIABLE_QOS)
        self.create_subscription(String, topics.EPISODE, self._on_episode, ros_qos.LATCHED_QOS)
        self.create_subscription(String, topics.PLAN, self._on_plan, ros_qos.RELIABLE_QOS)
        self.create_subscription(DiagnosticStatus, topics.SKILL_STATUS, self._on_status,
                                 ros_qos.RELIABLE_QOS)
        self.create_subscription(MarkerArray, topics.OBJECTS, self._on_objects,
                                 ros_qos.RELIABLE_QOS)
        self.success_client = self.create_client(Trigger, topics.CHECK_SUCCESS)
        if self.specs:
            threading.Thread(target=self._run_all, daemon=True).start()
        else:
            self.get_logger().info("episodes:=0 — waiting for operator instructions")

    # -- callbacks -----------------------------------------------------------------------------
    def _notify(self, kind: str, data: dict) -> None:
        with self._cond:
            self._events.append((kind, data))
            self._cond.notify_all()

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_episode(self, msg: String) -> None:
        with self._cond:
            self._episode = json.loads(msg.data)
            self._loaded_at = self._now()
            self._cond.notify_all()

    def _on_objects(self, msg: MarkerArray) -> None:
        stamp = max((from_time(m.header.stamp) for m in msg.markers), default=0.0)
        scene = _scene([(o.name, o.kind, o.color) for o in objects_from_markers(msg)])
        with self._cond:
            self._objects = (stamp, scene)
            self._cond.notify_all()

    def _on_plan(self, msg: String) -> None:
        self._notify("plan", {"step": msg.data, "t": time.monotonic()})

    def _on_status(self, msg: DiagnosticStatus) -> None:
        status = status_from_msg(msg)
        if status.get("source") == "executor":
            with self._cond:
                self._skill_running = status.get("status") == "running"
        self._notify("status", status)

    # -- episodes ------------------------------------------------------------------------------
    def _run_all(self) -> None:
        rows, start = [], time.perf_counter()
        try:
            if not self.success_client.wait_for_service(timeout_sec=60.0):
                raise RuntimeError(f"no {topics.CHECK_SUCCESS} service: is the sim running?")
            for i, spec in enumerate(self.specs):
                try:
                    row = self._run_one(spec)
                except EpisodeFailed as failed:
                    self.get_logger().error(f"episode {i + 1}/{len(self.specs)} failed: "
                                            f"{failed.reason}")
                    row = EpisodeReport(
                        task=spec.task, seed=spec.seed, instruction=self._instruction(spec),
                        success=False, outcome=failed.outcome, skill_outcomes=[
                            {"step": "", "status": failed.outcome, "reason": failed.reason}])
                rows.append(row.to_dict())
                self.get_logger().info(f"episode {i + 1}/{len(self.specs)} {spec.task} seed "
                                       f"{spec.seed}: {'SUCCESS' if row.success else 'FAILURE'}"
                                       f" ({row.outcome}, {len(row.steps)} steps)")
                if not row.success and i + 1 < len(self.specs):
                    self._settle()
            info = summarize(rows, planner=self.planner_name, model=None,
                             eval_s=round(time.perf_counter() - start, 2))
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "eval_info.json").write_text(json.dumps(info, indent=2))
            write_report(info, self.out_dir)
            rate = info["overall"]["success_rate"]
            self.get_logger().info(f"done: success {rate:.2f} over {len(rows)} episodes; "
                                   f"wrote {self.out_dir / 'eval_info.json'}")
        except Exception as err:  # report, then end the graph with a failure code
            self.get_logger().error(f"evaluation aborted: {err}")
            self.exit_code = 1
        rclpy.try_shutdown()

    def _instruction(self, spec: EpisodeSpec) -> str:
        """The episode's instruction: the spec's, else the loaded scene's if it is this one."""
        with self._cond:
            episode = self._episode or {}
        if spec.instruction or (episode.get("task"), episode.get("seed")) != (spec.task,
                                                                             spec.seed):
            return spec.instruction or ""
        return episode.get("instruction", "")

    def _settle(self) -> None:
        """After a failed episode: lets a skill still running end (up to `ABORT_GRACE_S`), so
        that neither it nor its status spills into the next episode."""
        with self._cond:
            if self._skill_running and not self._cond.wait_for(
                    lambda: not self._skill_running, ABORT_GRACE_S):
                self.get_logger().warning(f"a skill still runs {ABORT_GRACE_S:.0f} s after the "
                                          "episode ended; starting the next one anyway")
            self._events.clear()

    def _run_one(self, spec: EpisodeSpec) -> EpisodeReport:
        with self._cond:
            self._episode = None
        self.request_pub.publish(String(data=json.dumps({
            "task": spec.task, "seed": spec.seed, "n_distractors": spec.n_distractors,
            "template_id": spec.template_id})))
        self._wait(lambda: self._episode is not None and
                   (self._episode["task"], self._episode["seed"]) == (spec.task, spec.seed),
                   self.sim_wait_s, "the sim to load the episode", "sim_timeout")
        with self._cond:
            episode, loaded_at = self._episode, self._loaded_at
        scene = _scene([(o["name"], o["kind"], o["color"]) for o in episode["objects"]])
        # Objects seen in a frame taken after the load (the last scene's may have the same
        # names), with the scene's names and its (kind, colour)s: a perception that still pairs
        # the new frame with the old scene's table (gt mode, after a stall) does not count.
        self._wait(lambda: self._objects is not None and self._objects[0] >= loaded_at and
                   self._objects[1] == scene, self.perception_wait_s,
                   "perception to see the new scene", "perception_timeout")
        instruction = self._instruction(spec)
        with self._cond:
            self._events.clear()
        self.get_logger().info(f"{spec.task} seed {spec.seed}: {instruction!r}")
        with self._cond:  # a respawned planner may not listen yet; go ahead after a while
            if not self._cond.wait_for(self._planner_listens, self.planner_wait_s):
                self.get_logger().warning(f"no {self.planner_node} node subscribes to "
                                          f"{topics.INSTRUCTION}; sending the instruction anyway")
        # Only now: until the graph knows which node owns an endpoint it names none (rcl's
        # `_NODE_NAME_UNKNOWN_`), and ids taken then would be empty, so a planner killed in
        # this episode and respawned would pass for the one that started it.
        planner = self._planner_ids()
        self.instruction_pub.publish(String(data=instruction))
        steps, latencies, outcomes, outcome = self._follow(planner)
        report = EpisodeReport(task=spec.task, seed=spec.seed, instruction=instruction,
                               success=False, outcome=outcome, steps=steps,
                               planner_latency_ms=latencies, skill_outcomes=outcomes,
                               n_objects=len(scene[0]))
        verdict = self._check_success(len(steps))
        if verdict is None:
            reason = (f"no answer from {topics.CHECK_SUCCESS} within {self.success_wait_s:.0f} s")
            self.get_logger().error(f"  {reason}")
            report.outcome = "success_check_timeout"
            report.skill_outcomes.append({"step": "", "status": report.outcome, "reason": reason})
            return report
        report.perturbation = json.loads(verdict.message or "{}").get("perturbation")
        report.success = outcome != "aborted" and bool(verdict.success)
        return report

    def _check_success(self, steps: int) -> Trigger.Response | None:
        """The sim's verdict on the episode, or None if it does not answer in time.

        The sim judges with the plan steps it has received (an `infeasible` episode succeeds
        only with `cannot()` among them), and the last one may still be on its way when the
        runner asks: a verdict on fewer than the runner's `steps` is asked for again, until
        `success_wait_s` has passed (then the last verdict stands)."""
        deadline = time.monotonic() + self.success_wait_s
        verdict = None
        while True:
            future = self.success_client.call_async(Trigger.Request())
            done = threading.Event()
            future.add_done_callback(lambda _, answered=done: answered.set())
            if not done.wait(max(deadline - time.monotonic(), 0.0)):
                self.success_client.remove_pending_request(future)
                return verdict
            verdict = future.result()
            judged = len(json.loads(verdict.message or "{}").get("steps", []))
            if judged >= steps or time.monotonic() + STEPS_RETRY_S > deadline:
                return verdict
            time.sleep(STEPS_RETRY_S)

    def _planner_ids(self) -> frozenset[bytes]:
        """Ids of the planner node's publishers on the plan topic: a respawned planner brings
        new ones, a dead one's disappear once discovery notices."""
        return frozenset(bytes(info.endpoint_gid)
                         for info in self.get_publishers_info_by_topic(topics.PLAN)
                         if info.node_name == self.planner_node)

    def _planner_listens(self) -> bool:
        """True once the planner node subscribes to instructions (e.g. after a respawn)."""
        return any(info.node_name == self.planner_node
                   for info in self.get_subscriptions_info_by_topic(topics.INSTRUCTION))

    def _follow(self, planner: frozenset[bytes]) -> tuple[list[str], list[float], list[dict], str]:
        """Collects plan steps and statuses until the episode ends; returns them and the outcome.

        Args:
            planner: `_planner_ids()` when the episode started (empty: the first ids seen).
        """
        steps, latencies, outcomes = [], [], []
        deadline = time.monotonic() + self.timeout_s
        last_end = next_check = time.monotonic()
        lost, running, skill, skill_since = "", False, "", 0.0
        while True:
            now = time.monotonic()
            if running and now - skill_since > self.skill_timeout_s:
                reason = f"{skill} still running after {self.skill_timeout_s:.0f} s"
                self.get_logger().error(f"  episode ended: {reason}")
                outcomes.append({"step": skill, "status": "skill_timeout", "reason": reason})
                return steps, latencies, outcomes, "skill_timeout"
            if lost and not running:  # the planner is gone and no skill runs: stop here
                self.get_logger().error(f"  episode aborted: {lost}")
                outcomes.append({"step": "", "status": "aborted", "reason": lost})
                return steps, latencies, outcomes, "aborted"
            if now >= deadline:
                outcome = "aborted" if lost else "timeout"
                reason = lost or f"the episode ran longer than {self.timeout_s:.0f} s"
                self.get_logger().error(f"  episode ended: {reason}")
                outcomes.append({"step": "", "status": outcome, "reason": reason})
                return steps, latencies, outcomes, outcome
            if not lost and now >= next_check:
                next_check = now + LIVENESS_S
                current = self._planner_ids()  # a dead planner's ids may linger, then go
                if not planner:
                    planner = current  # discovered only now (or no planner node: unchecked)
                elif not current or current - planner:
                    lost = f"the {self.planner_node} node restarted or left mid-episode"
                    deadline = min(deadline, now + ABORT_GRACE_S)
            with self._cond:
                self._cond.wait_for(lambda: self._events, min(LIVENESS_S, deadline - now))
                if not self._events:
                    continue
                kind, data = self._events.pop(0)
            if kind == "plan":
                steps.append(data["step"])
                latencies.append(round((data["t"] - last_end) * 1e3, 1))
                self.get_logger().info(f"  plan: {data['step']}")
                continue
            if data.get("source") == "planner" and data["status"] == "invalid":
                return steps, latencies, outcomes, "invalid_plan"
            if data.get("source") == "planner" and data["status"] in PLANNER_ENDS:
                outcomes.append({"step": "", "status": data["status"], "reason": data["reason"]})
                return steps, latencies, outcomes, PLANNER_ENDS[data["status"]]
            if data.get("source") != "executor" or data["status"] == "stale":
                continue
            running = data["status"] == "running"
            if running:
                skill, skill_since = data["step"], time.monotonic()
                continue
            if data["status"] == "terminal" and (not steps or
                                                 steps[-1].strip() != data["step"].strip()):
                # Its plan message is still on the way (no order across topics); the executor
                # runs only what the planner sent, and the success check counts on it.
                steps.append(data["step"])
                latencies.append(round((time.monotonic() - last_end) * 1e3, 1))
                self.get_logger().info(f"  plan: {data['step']}")
            last_end = time.monotonic()
            reason = f" — {data['reason']}" if data.get("reason") else ""
            self.get_logger().info(f"  {data['step']}: {data['status']}{reason}")
            outcomes.append({"step": data["step"], "status": data["status"],
                             "reason": data.get("reason", "")})
            if data["status"] in ENDS:
                step = data["step"].strip()
                if data["status"] == "invalid":
                    return steps, latencies, outcomes, "invalid_plan"
                if data["status"] == "estop":
                    return steps, latencies, outcomes, "estop"
                return steps, latencies, outcomes, step.split("(")[0]

    def _wait(self, predicate: Callable[[], bool], timeout_s: float, what: str,
              outcome: str) -> None:
        """Waits for `predicate` (under the lock); raises `EpisodeFailed(outcome)` on timeout."""
        with self._cond:
            if not self._cond.wait_for(predicate, timeout_s):
                raise EpisodeFailed(outcome, f"timed out after {timeout_s:.0f} s waiting "
                                             f"for {what}")


def main(args: list[str] | None = None) -> int:
    return run_node(EpisodeRunnerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
