"""A stand-in for a real arm's and RGB-D camera's ROS 2 drivers, for `hardware.launch.yaml` tests.

It speaks what real drivers speak, not what the sim node does: depth as `16UC1` millimetres
with holes (0 beyond `max_range_m`, as a RealSense reports no reading), joint states and
controller trajectories under a Franka FR3's joint names (`fr3_joint1…7`,
`fr3_finger_joint1/2`), the controllers on `/fr3_*_controller/joint_trajectory`, a camera
placed where the test says (not the sim's default pose), no segmentation, no episode topic,
no services, and a camera of the size and lens the test says (a RealSense D435's colour stream
is 640x480 with a 42 degree vertical field of view). Underneath, a PyBullet `TabletopWorld`
moves the arm the way a joint trajectory controller does (linear interpolation over
`time_from_start`) and renders the frames in a thread of their own, as a camera driver
publishes independently of the arm's: a 640x480 render takes several times a physics tick.

The scene is `task`/`seed`'s; the objects' true poses go to the JSON file `truth` (for the
test, not over ROS: a real driver knows nothing of them).

Example:
    python tests/ros/standin_driver.py --ros-args -p task:=pick_place -p seed:=0 \
        -p eye:="[1.0, 0.35, 0.8]" -p target:="[0.45, 0.0, 0.0]" -p truth:=/tmp/truth.json
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, JointState
from trajectory_msgs.msg import JointTrajectory

from embodied_mm.robots.kinematics import JOINT_LOWER, JOINT_UPPER
from embodied_mm.ros import qos as ros_qos
from embodied_mm.ros import topics
from embodied_mm.ros.conversions import (
    JointNames,
    MessageError,
    depth_to_msg,
    from_time,
    image_to_msg,
    joint_state_msg,
    to_time,
)
from embodied_mm.ros.node_utils import param, run_node
from embodied_mm.ros.trajectory import TrajectoryFollower

FR3 = JointNames(tuple(f"fr3_joint{i}" for i in range(1, 8)),
                 ("fr3_finger_joint1", "fr3_finger_joint2"))
ARM_TOPIC = "/fr3_arm_controller/joint_trajectory"
GRIPPER_TOPIC = "/fr3_gripper_controller/joint_trajectory"
PHYSICS_HZ = 240


class StandinDriver(Node):
    """Camera and arm drivers of a simulated FR3 behind real-driver topics and conventions."""

    def __init__(self) -> None:
        super().__init__("standin_driver")
        from embodied_mm.tasks import TASKS
        from sim.camera import CameraConfig
        from sim.world import TabletopWorld

        camera = CameraConfig(width=int(param(self, "width", 320)),
                              height=int(param(self, "height", 240)),
                              fov_deg=float(param(self, "fov_deg", 55.0)),
                              eye=tuple(param(self, "eye", [1.0, 0.35, 0.8])),
                              target=tuple(param(self, "target", [0.45, 0.0, 0.0])))
        self.max_range_m = float(param(self, "max_range_m", 2.0))
        self.world = TabletopWorld(camera=camera)
        episode = TASKS[str(param(self, "task", "pick_place"))].sample(
            int(param(self, "seed", 0)), 0, None)
        self.world.reset(episode.scene)
        self._lock = threading.Lock()
        self._arm = TrajectoryFollower(FR3.arm, JOINT_LOWER, JOINT_UPPER)
        self._gripper = TrajectoryFollower(FR3.fingers, np.zeros(2), np.full(2, 0.04))
        q, width = self.world.joint_state()
        self._arm.hold(q)
        self._gripper.hold(np.full(2, width / 2))
        self._start = self._now() - self.world.sim_time
        truth = [{"name": o.name, "kind": o.kind, "color": o.color,
                  "position": o.position.tolist()} for o in self.world.object_states()]
        Path(str(param(self, "truth", "truth.json"))).write_text(json.dumps(truth))

        k = camera.intrinsics
        self._info = CameraInfo(width=camera.width, height=camera.height,
                                distortion_model="plumb_bob", d=[0.0] * 5,
                                k=k.flatten().tolist(), r=np.eye(3).flatten().tolist(),
                                p=np.hstack([k, np.zeros((3, 1))]).flatten().tolist())
        self._info.header.frame_id = "camera_color_optical_frame"
        self.joint_pub = self.create_publisher(JointState, topics.JOINT_STATES,
                                               ros_qos.SENSOR_QOS)
        self.color_pub = self.create_publisher(Image, topics.COLOR, ros_qos.SENSOR_QOS)
        self.depth_pub = self.create_publisher(Image, topics.DEPTH, ros_qos.SENSOR_QOS)
        self.info_pub = self.create_publisher(CameraInfo, topics.COLOR_INFO, ros_qos.SENSOR_QOS)
        for topic, follower in ((ARM_TOPIC, self._arm), (GRIPPER_TOPIC, self._gripper)):
            self.create_subscription(JointTrajectory, topic,
                                     lambda m, f=follower: self._on_trajectory(m, f),
                                     ros_qos.RELIABLE_QOS)
        self.create_timer(1.0 / float(param(self, "joint_state_hz", 100.0)), self._tick)
        self._closing = threading.Event()
        self._camera = threading.Thread(
            target=self._camera_loop, args=(1.0 / float(param(self, "camera_hz", 10.0)),),
            name="camera", daemon=True)
        self._camera.start()
        self.get_logger().info(f"stand-in FR3 + {camera.width}x{camera.height} RGB-D camera "
                               f"at {list(camera.eye)}: {episode.task} seed {episode.seed}")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_trajectory(self, msg: JointTrajectory, follower: TrajectoryFollower) -> None:
        try:
            with self._lock:
                q, width = self.world.joint_state()
            current = q if follower is self._arm else np.full(2, width / 2)
            follower.set(msg, from_time(msg.header.stamp) or self._now(), current)
        except MessageError as err:
            self.get_logger().error(f"rejected trajectory: {err}")

    def _tick(self) -> None:
        """Steps the world up to the wall clock towards the controllers' targets."""
        now = self._now()
        with self._lock:
            steps = int(np.clip(round((now - self._start - self.world.sim_time) * PHYSICS_HZ),
                                0, 48))
            if steps:
                self.world.command_joints(self._arm.target(now),
                                          float(self._gripper.target(now).sum()))
                self.world.step(steps)
            q, width = self.world.joint_state()
            velocities = self.world.joint_velocities()
        self.joint_pub.publish(joint_state_msg(q, width, now, velocities, joints=FR3))

    def close(self) -> None:
        """Stops the camera thread (`run_node` calls this before destroying the node)."""
        self._closing.set()
        self._camera.join(timeout=5.0)

    def _camera_loop(self, period: float) -> None:
        """Publishes a frame every `period` seconds (or as fast as rendering allows)."""
        while not self._closing.wait(period):
            try:
                self._frame()
            except Exception:
                if self.context.ok():
                    raise
                return  # shut down by a signal while publishing

    def _frame(self) -> None:
        """One colour + 16UC1 depth frame, both stamped with the capture time."""
        now = self._now()
        with self._lock:
            rgb, depth, _ = self.world.render()  # no segmentation on a real camera
        depth[depth > self.max_range_m] = 0.0  # out of range: no reading
        color = image_to_msg(rgb, "rgb8", now, "camera_color_optical_frame")
        # Aligned to colour, as `aligned_depth_to_color` is: the colour camera's frame.
        aligned = depth_to_msg(depth, "16UC1", now, "camera_color_optical_frame")
        self._info.header.stamp = to_time(now)
        for pub, msg in ((self.color_pub, color), (self.depth_pub, aligned),
                         (self.info_pub, self._info)):
            pub.publish(msg)


def main(args: list[str] | None = None) -> int:
    return run_node(StandinDriver, args)


if __name__ == "__main__":
    sys.exit(main())
