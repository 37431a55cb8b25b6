"""`executor_node`: runs each plan step from `/embodied_mm/plan` as a skill at control rate.

Steps are parsed against the currently perceived objects; invalid text is refused (status
`invalid`) and nothing moves. Skills drive the robot only through `Ros2Robot`, i.e. the
trajectory-controller topics, so the same node drives the sim node and a real arm. Status goes
to `/embodied_mm/skill_status`: `running`, then `succeeded`/`failed` with a reason, `terminal`
for done()/cannot(), `estop` when the e-stop stopped the skill.

Example:
    python -m embodied_mm.ros.executor_node --ros-args \
        -p arm_topic:=/arm_controller/joint_trajectory
"""

from __future__ import annotations

import queue
import threading

from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node
from std_msgs.msg import String

from embodied_mm.executor import run_skill
from embodied_mm.plan_language import PlanError, parse_step
from embodied_mm.robots.base import RobotLimits
from embodied_mm.robots.ros2_robot import EStopActive, Ros2Robot, StaleData
from embodied_mm.ros import topics
from embodied_mm.ros.conversions import status_msg
from embodied_mm.ros.node_utils import config_from_params, param, run_node


class ExecutorNode(Node):
    """Plan text in, skill execution and status out; one step at a time."""

    def __init__(self) -> None:
        super().__init__("executor")
        cfg = config_from_params(self)
        self.robot = Ros2Robot(
            self, RobotLimits(velocity_scale=cfg.robot.velocity_scale),
            control_hz=cfg.robot.control_hz,
            arm_topic=param(self, "arm_topic", topics.ARM_TRAJECTORY),
            gripper_topic=param(self, "gripper_topic", topics.GRIPPER_TRAJECTORY),
            max_age_s=float(param(self, "max_age_s", 1.0)))
        self.status_pub = self.create_publisher(DiagnosticStatus, topics.SKILL_STATUS,
                                                topics.RELIABLE_QOS)
        self.create_subscription(String, topics.PLAN, self._on_plan, topics.RELIABLE_QOS)
        self._steps: queue.Queue[str | None] = queue.Queue()
        self._seq = 0
        self._worker = threading.Thread(target=self._work, daemon=True)
        self._worker.start()

    def _on_plan(self, msg: String) -> None:
        self._steps.put(msg.data)

    def _status(self, step: str, status: str, reason: str = "") -> None:
        self.status_pub.publish(status_msg("executor", step, status, reason, self._seq))
        text = f"{step}: {status}{' — ' + reason if reason else ''}"
        if status in ("succeeded", "running", "terminal"):
            self.get_logger().info(text)
        else:
            self.get_logger().warning(text)

    def _work(self) -> None:
        while (text := self._steps.get()) is not None:
            self._seq += 1
            try:
                self._execute(text)
            except Exception as err:  # never let one step kill the executor: report, hold
                self._status(text, "aborted", f"{type(err).__name__}: {err}")

    def _execute(self, text: str) -> None:
        """Checks one plan step against the scene and runs its skill to the end."""
        try:
            if not self.robot.is_connected:
                self.robot.connect()
            obs = self.robot.get_observation(images=False)
            call = parse_step(text, obs.object_names)
        except PlanError as err:
            self._status(text, "invalid", str(err))
            return
        except StaleData as err:
            self._status(text, "stale", str(err))
            return
        if call.is_terminal:
            self._status(text, "terminal")
            return
        self._status(text, "running")
        try:
            status, reason, _ = run_skill(self.robot, call)
            self._status(text, status.value, reason)
        except EStopActive as err:
            self._status(text, "estop", str(err))
        except StaleData as err:
            self._status(text, "aborted", f"{err}; holding position")

    def close(self) -> None:
        self._steps.put(None)


def main(args: list[str] | None = None) -> int:
    return run_node(ExecutorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
