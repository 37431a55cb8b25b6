"""`executor_node`: runs each plan step from `/embodied_mm/plan` as a skill at control rate.

Steps are parsed against the currently perceived objects; invalid text is refused (status
`invalid`) and nothing moves. Skills drive the robot only through `Ros2Robot`, i.e. the
trajectory-controller topics, so the same node drives the sim node and a real arm. Status goes
to `/embodied_mm/skill_status`: `running`, then `succeeded`/`failed` with a reason, `terminal`
for done()/cannot(), `estop` when the e-stop stopped the skill. Any node may engage the e-stop;
a release counts only from the console or the executor (`embodied_mm/ros/estop.py`).

Teleoperation: while `/embodied_mm/teleop/active` is true the operator has control. Taking
over stops the running skill (status `aborted`, reason "operator took over"); between steps,
twists on `/embodied_mm/teleop/twist` and gripper commands on `/embodied_mm/teleop/gripper`
jog the end effector through the same `Robot` clipping as skills (`embodied_mm/teleop/jog.py`).
Plan steps still run when sent, so an operator can also dictate steps.

The robot driver's joint names are the parameters `arm_joints` and `finger_joints` (default:
the Panda's; `fr3_joint1…7` and `fr3_finger_joint1/2` for a Franka FR3), for `/joint_states`
and the trajectories it sends.

Example:
    python -m embodied_mm.ros.executor_node --ros-args \
        -p arm_topic:=/arm_controller/joint_trajectory \
        -p finger_joints:="[fr3_finger_joint1, fr3_finger_joint2]"
"""

from __future__ import annotations

import queue
import threading

from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from std_msgs.msg import Bool, String

from embodied_mm.executor import run_skill
from embodied_mm.plan_language import PlanError, parse_step
from embodied_mm.robots.base import RobotLimits
from embodied_mm.ros import qos as ros_qos
from embodied_mm.ros import topics
from embodied_mm.ros.conversions import status_msg
from embodied_mm.ros.estop import release_allowed
from embodied_mm.ros.node_utils import config_from_params, param, run_node
from embodied_mm.ros.ros2_robot import EStopActive, Ros2Robot, StaleData, joint_names_param
from embodied_mm.teleop.jog import Jog
from embodied_mm.types import JointAction


class OperatorTookOver(RuntimeError):
    """The operator took control while a skill ran."""


class _PreemptibleRobot(Ros2Robot):
    """`Ros2Robot` whose running skill stops at the next command once `preempted` is set, and
    whose e-stop, like the sim's, is released only by the console or the executor."""

    preempted = False

    def _on_estop(self, msg: Bool, info: dict) -> None:
        if not msg.data and self.estopped and not release_allowed(self.node, info):
            return
        super()._on_estop(msg)

    def _command(self, action: JointAction) -> None:
        if self.preempted:
            raise OperatorTookOver("operator took over")
        super()._command(action)


class ExecutorNode(Node):
    """Plan text in, skill execution and status out; one step at a time."""

    def __init__(self) -> None:
        super().__init__("executor")
        cfg = config_from_params(self)
        self.robot = _PreemptibleRobot(
            self, RobotLimits(velocity_scale=cfg.robot.velocity_scale),
            control_hz=cfg.robot.control_hz,
            arm_topic=param(self, "arm_topic", topics.ARM_TRAJECTORY),
            gripper_topic=param(self, "gripper_topic", topics.GRIPPER_TRAJECTORY),
            max_age_s=float(param(self, "max_age_s", 1.0)), joints=joint_names_param(self))
        self.status_pub = self.create_publisher(DiagnosticStatus, topics.SKILL_STATUS,
                                                ros_qos.RELIABLE_QOS)
        self.create_subscription(String, topics.PLAN, self._on_plan, ros_qos.RELIABLE_QOS)
        self._steps: queue.Queue[str | None] = queue.Queue()
        self._seq = 0
        self._operator = False
        self._jog = Jog()
        self.create_subscription(Bool, topics.TELEOP_ACTIVE, self._on_operator,
                                 ros_qos.LATCHED_QOS)
        self.create_subscription(TwistStamped, topics.TELEOP_TWIST, self._on_twist,
                                 ros_qos.RELIABLE_QOS)
        self.create_subscription(Bool, topics.TELEOP_GRIPPER, self._on_gripper,
                                 ros_qos.RELIABLE_QOS)
        self._worker = threading.Thread(target=self._work, daemon=True)
        self._worker.start()

    def _on_plan(self, msg: String) -> None:
        self._steps.put(msg.data)

    def _on_operator(self, msg: Bool) -> None:
        self._operator = bool(msg.data)
        self.robot.preempted = self._operator  # stops the skill running now, if any
        self._jog.stop()
        self.get_logger().info("operator has control" if self._operator
                               else "control handed back to the planner")

    def _on_twist(self, msg: TwistStamped) -> None:
        if not self._operator:
            return
        try:
            t = msg.twist
            self._jog.command([t.linear.x, t.linear.y, t.linear.z], t.angular.z,
                              self._now())
        except ValueError as err:
            self.get_logger().error(f"ignored teleop twist: {err}", throttle_duration_sec=2.0)

    def _on_gripper(self, msg: Bool) -> None:
        if self._operator:
            self._jog.gripper(bool(msg.data), self._now())

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _jog_once(self) -> None:
        """Sends one jog target while the operator has control (called between steps)."""
        if not self._operator:
            return
        self.robot.preempted = False  # no skill runs between steps; only skills are stopped
        try:
            if not self.robot.is_connected:
                self.robot.connect(timeout_s=0.5)
            q, width = self.robot._fresh("joints")  # joints only: jogging needs no objects
            action = self._jog.step(q, width, self._now())
            if action is not None:
                self.robot.send_action(action)
        except (StaleData, EStopActive, OperatorTookOver) as err:
            self.get_logger().warning(f"jog not sent: {err}", throttle_duration_sec=2.0)

    def _status(self, step: str, status: str, reason: str = "") -> None:
        self.status_pub.publish(status_msg("executor", step, status, reason, self._seq))
        text = f"{step}: {status}{' — ' + reason if reason else ''}"
        if status in ("succeeded", "running", "terminal"):
            self.get_logger().info(text)
        else:
            self.get_logger().warning(text)

    def _work(self) -> None:
        while True:
            try:
                text = self._steps.get(timeout=1.0 / self.robot.control_hz)
            except queue.Empty:
                self._jog_once()
                continue
            if text is None:
                return
            self.robot.preempted = False  # a step sent after a take-over runs
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
        except OperatorTookOver as err:
            self._status(text, "aborted", str(err))
        except StaleData as err:
            self._status(text, "aborted", f"{err}; holding position")

    def close(self) -> None:
        self._steps.put(None)


def main(args: list[str] | None = None) -> int:
    return run_node(ExecutorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
