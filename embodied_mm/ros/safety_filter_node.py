"""`safety_filter_node`: the sim's safety gate in front of a real arm's trajectory controllers.

In a hardware graph the executor publishes to this node's input topics and only this node
publishes to the controllers. Every arm trajectory is checked against the same `RobotLimits`
as `Robot.send_action` (`embodied_mm/ros/safety.py`): positions clipped to the joint limits,
a trajectory with any point whose tool leaves the workspace box refused as a whole, and point
times stretched so that no joint moves faster than its limit from the measured position
(velocities and accelerations dropped, so the controller interpolates linearly). Gripper
trajectories are clipped to the finger range. While `/embodied_mm/estop` is engaged nothing is
forwarded, and engaging it sends each controller a trajectory that holds the measured position;
only the console or the executor may release it (`estop.py`). Joint names, in and out and
on `/joint_states`, are the parameters `arm_joints` and `finger_joints` (default: the
Panda's; `fr3_joint1…7`, `fr3_finger_joint1/2` for a Franka FR3).

What a real arm's controllers must still enforce themselves is in docs/reliability.md.

Example:
    python -m embodied_mm.ros.safety_filter_node --ros-args \
        -p out_arm_topic:=/fr3_arm_controller/joint_trajectory
"""

from __future__ import annotations

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from embodied_mm.ros import qos as ros_qos
from embodied_mm.ros import topics
from embodied_mm.ros.conversions import MessageError, joint_state_from_msg, trajectory_msg
from embodied_mm.ros.estop import RELEASE_NODES, EStopLatch
from embodied_mm.ros.node_utils import param, run_node
from embodied_mm.ros.ros2_robot import joint_names_param
from embodied_mm.ros.safety import SafetyGate, UnsafeTrajectory
from embodied_mm.ros.trajectory import ordered_points

SAFE_ARM = "/embodied_mm/safety/arm_trajectory"
SAFE_GRIPPER = "/embodied_mm/safety/gripper_trajectory"


class SafetyFilterNode(Node):
    """Trajectories in (from the executor), checked trajectories out (to the controllers)."""

    def __init__(self) -> None:
        super().__init__("safety_filter")
        self.gate = SafetyGate()
        self.joints = joint_names_param(self)
        self._joints: tuple[np.ndarray, float] | None = None  # measured arm joints, width
        self.forwarded = self.refused = 0
        self.out = {name: self.create_publisher(JointTrajectory, str(param(self, key, default)),
                                                ros_qos.RELIABLE_QOS)
                    for name, key, default in (("arm", "out_arm_topic", topics.ARM_TRAJECTORY),
                                               ("gripper", "out_gripper_topic",
                                                topics.GRIPPER_TRAJECTORY))}
        self.create_subscription(JointTrajectory, str(param(self, "in_arm_topic", SAFE_ARM)),
                                 self._on_arm, ros_qos.RELIABLE_QOS)
        self.create_subscription(JointTrajectory,
                                 str(param(self, "in_gripper_topic", SAFE_GRIPPER)),
                                 self._on_gripper, ros_qos.RELIABLE_QOS)
        self.create_subscription(JointState, topics.JOINT_STATES, self._on_joints,
                                 ros_qos.LATEST_QOS)
        self.estop = EStopLatch(self, self._on_estop, param(
            self, "estop_release_nodes", list(RELEASE_NODES)))

    def _on_joints(self, msg: JointState) -> None:
        try:
            self._joints = joint_state_from_msg(msg, self.joints)
        except MessageError:
            return  # a partial or malformed state is never the arm's position

    def _refuse(self, which: str, reason: str) -> None:
        self.refused += 1
        self.get_logger().error(f"refused {which} trajectory: {reason}")

    def _on_arm(self, msg: JointTrajectory) -> None:
        if self.estop.engaged:
            return self._refuse("arm", "e-stop engaged")
        if self._joints is None:
            return self._refuse("arm", f"no {topics.JOINT_STATES} yet")
        try:
            points, times = ordered_points(msg, self.joints.arm)
            points, times = self.gate.check_trajectory(points, times, self._joints[0])
        except (MessageError, UnsafeTrajectory) as err:
            return self._refuse("arm", str(err))
        self._forward("arm", self.joints.arm, points, times, msg)

    def _on_gripper(self, msg: JointTrajectory) -> None:
        if self.estop.engaged:
            return self._refuse("gripper", "e-stop engaged")
        try:
            points, times = ordered_points(msg, self.joints.fingers)
        except MessageError as err:
            return self._refuse("gripper", str(err))
        points = np.clip(points, 0.0, self.gate.limits.gripper_max / 2)
        self._forward("gripper", self.joints.fingers, points, times, msg)

    def _forward(self, which: str, names, points, times, msg: JointTrajectory) -> None:
        out = trajectory_msg(names, points, times)
        out.header = msg.header
        self.out[which].publish(out)
        self.forwarded += 1

    def _on_estop(self, engaged: bool) -> None:
        if engaged and self._joints is not None:  # stop the controllers where the arm is
            q, width = self._joints
            fingers = [width / 2] * len(self.joints.fingers)
            self.out["arm"].publish(trajectory_msg(self.joints.arm, [q], [0.0]))
            self.out["gripper"].publish(trajectory_msg(self.joints.fingers, [fingers], [0.0]))
        self.get_logger().warning("E-STOP engaged: holding position, nothing forwarded"
                                  if engaged else "e-stop released")


def main(args: list[str] | None = None) -> int:
    return run_node(SafetyFilterNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
