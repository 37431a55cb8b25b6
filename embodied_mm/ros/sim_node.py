"""`sim_node`: the PyBullet tabletop as a ROS 2 robot + camera, in (soft) real time.

Publishes the camera (colour, depth, segmentation, CameraInfo) and `/joint_states`; follows
`trajectory_msgs/JointTrajectory` on the arm and gripper controller topics the way
ros2_control's joint trajectory controller does (time-parameterised points, joint names in any
order, a new trajectory replaces the old one). Whoever publishes the trajectory, the arm's
command passes the same `SafetyGate` as a skill's `Robot.send_action` at every physics tick
(joint limits, joint speed, workspace box) with its acceleration bounded (`CommandRamp`):
every command source is held to the skills' limits. Latches on `/embodied_mm/estop`: any
node may engage it, only the console or the executor may release it (`estop.py`). Episodes
are loaded from `/embodied_mm/episode_request` (JSON `{task, seed, n_distractors, template_id}`)
and described on the latched `/embodied_mm/episode`; `/embodied_mm/reset` reloads the current
one and `/embodied_mm/check_success` judges it on the world state. Camera frames render in a
second process (`sim.render_process`), so physics and joint states never wait for the camera.
With `eval.perturb=knock|grasp_fail|remove|mixed` in its overrides, each episode suffers one
world fault mid-skill, as `embodied-mm eval` injects it (`embodied_mm.eval.perturb`): due a
seeded number of 20 Hz ticks after the episode's first arm trajectory; `check_success`
judges the episode under it and reports it in its message (`perturbation`).

Example:
    python -m embodied_mm.ros.sim_node --ros-args -p overrides:="['task=stack','seed=3']"
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from embodied_mm.eval.perturb import FaultStriker, judge
from embodied_mm.plan_language import PlanError, parse_step
from embodied_mm.robots.kinematics import JOINT_LOWER, JOINT_UPPER
from embodied_mm.ros import qos as ros_qos
from embodied_mm.ros import topics
from embodied_mm.ros.conversions import (
    MessageError,
    from_time,
    image_to_msg,
    joint_state_msg,
    status_from_msg,
    to_time,
)
from embodied_mm.ros.estop import RELEASE_NODES, EStopLatch
from embodied_mm.ros.node_utils import config_from_params, param, run_node
from embodied_mm.ros.safety import CommandRamp, SafetyGate
from embodied_mm.ros.trajectory import TrajectoryFollower

# A camera frame is re-rendered only when some joint or object moved more than this (m, rad,
# quaternion component) since the last render; a still world is re-published as it was, with
# a new stamp. 0.1 mm is a tenth of a pixel at the table; rendering is ~22 ms of CPU a frame.
STILL_TOLERANCE = 1e-4
FAULT_TICK_HZ = 20.0  # a fault's due tick counts control ticks, as in the in-process eval


def _same_pose(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= STILL_TOLERANCE))


class SimNode(Node):
    """Owns one `TabletopWorld`; steps it to keep up with the wall clock."""

    def __init__(self) -> None:
        super().__init__("sim")
        from sim.camera import CameraConfig
        from sim.render_process import RenderProcess
        from sim.robot import SimRobot
        from sim.world import TabletopWorld

        cfg = config_from_params(self)
        self.cfg = cfg
        self.joint_state_hz = float(param(self, "joint_state_hz", 100.0))
        self.camera_hz = float(param(self, "camera_hz", 15.0))
        camera = CameraConfig(width=int(param(self, "camera_width", cfg.robot.camera.width)),
                              height=int(param(self, "camera_height", cfg.robot.camera.height)))
        camera = replace(camera, fov_deg=float(param(self, "camera_fov_deg", camera.fov_deg)))
        self.world = TabletopWorld(gui=cfg.gui, camera=camera)
        self.observer = SimRobot(self.world)  # reads observations; never commands
        self.observer.connect()
        self._lock = threading.Lock()  # one PyBullet client: one caller at a time
        self._arm = TrajectoryFollower(topics.ARM_JOINTS, JOINT_LOWER, JOINT_UPPER)
        self._gripper = TrajectoryFollower(topics.FINGER_JOINTS, np.zeros(2), np.full(2, 0.04))
        self._ramp = CommandRamp(SafetyGate(), self.world.joint_state()[0])
        self._episode = None
        self._episode_request: dict = {}
        self._initial_objects = []
        self._steps: list[str] = []
        self._striker: FaultStriker | None = None  # this episode's world fault (eval.perturb)
        self._motion_start: float | None = None  # sim time of the episode's first arm command
        self._wall_start = self._now()
        # The last rendered frame's messages and the world pose they show (`_camera_tick`).
        self._frame: tuple[Image, Image, Image, CameraInfo] | None = None
        self._info = self._camera_info()  # fixed intrinsics: built once, re-stamped per frame
        self._frame_pose = np.zeros(0)
        # Frames render on another core, so physics never waits for the camera.
        self._renderer = RenderProcess(camera)
        self._frame_wanted = False  # a skill ended while a frame rendered: take one when done
        self.frames_published = self.frames_rendered = self.frames_dropped = 0

        self.joint_pub = self.create_publisher(JointState, topics.JOINT_STATES, ros_qos.SENSOR_QOS)
        self.color_pub = self.create_publisher(Image, topics.COLOR, ros_qos.SENSOR_QOS)
        self.depth_pub = self.create_publisher(Image, topics.DEPTH, ros_qos.SENSOR_QOS)
        self.seg_pub = self.create_publisher(Image, topics.SEGMENTATION, ros_qos.SENSOR_QOS)
        self.info_pub = self.create_publisher(CameraInfo, topics.COLOR_INFO, ros_qos.SENSOR_QOS)
        self.episode_pub = self.create_publisher(String, topics.EPISODE, ros_qos.LATCHED_QOS)
        self.create_subscription(JointTrajectory, topics.ARM_TRAJECTORY,
                                 lambda m: self._on_trajectory(m, self._arm, "arm"),
                                 ros_qos.RELIABLE_QOS)
        self.create_subscription(JointTrajectory, topics.GRIPPER_TRAJECTORY,
                                 lambda m: self._on_trajectory(m, self._gripper, "gripper"),
                                 ros_qos.RELIABLE_QOS)
        self._estop = EStopLatch(self, self._on_estop, param(
            self, "estop_release_nodes", list(RELEASE_NODES)))
        self.create_subscription(String, topics.EPISODE_REQUEST, self._on_episode_request,
                                 ros_qos.RELIABLE_QOS)
        self.create_subscription(String, topics.PLAN, self._on_plan, ros_qos.RELIABLE_QOS)
        # A finished skill: the planner waits for a frame of the world it left, so take one now
        # rather than at the next camera tick (up to 1 / camera_hz later).
        self.create_subscription(DiagnosticStatus, topics.SKILL_STATUS, self._on_skill_status,
                                 ros_qos.RELIABLE_QOS)
        self.create_service(Trigger, topics.RESET, self._on_reset)
        self.create_service(Trigger, topics.CHECK_SUCCESS, self._on_check_success)

        self._load({"task": cfg.task.name if cfg.task.name != "all" else "pick_place",
                    "seed": cfg.seed, "n_distractors": cfg.task.n_distractors,
                    "template_id": cfg.task.template_id})
        self.create_timer(1.0 / self.joint_state_hz, self._physics_tick)
        self._camera_timer = self.create_timer(1.0 / self.camera_hz, self._camera_tick)
        self.get_logger().info(f"sim ready: joint_states {self.joint_state_hz:.0f} Hz, camera "
                               f"{camera.width}x{camera.height} at {self.camera_hz:.0f} Hz")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # -- episodes ------------------------------------------------------------------------------
    def _load(self, request: dict) -> None:
        from embodied_mm.tasks import TASKS

        task = TASKS[request["task"]]
        episode = task.sample(int(request["seed"]), int(request.get("n_distractors") or 0),
                              request.get("template_id"))
        with self._lock:
            self.world.reset(episode.scene)
            self._renderer.load(episode.scene)
            q, width = self.world.joint_state()
            self._arm.hold(q)
            self._ramp.reset(q)
            self._gripper.hold(np.full(2, width / 2))
            self._initial_objects = self.world.object_states()
            self._striker = (None if self.cfg.eval.perturb == "none" else
                             FaultStriker(self.world, self.cfg.eval.perturb, episode.seed))
            self._motion_start = None
            self._frame = None  # new bodies: segmentation ids may differ at the same poses
            # Frames are stamped when taken, under this lock: one stamped earlier shows the
            # last scene, however late it is published (`stamp` in the episode message).
            loaded_at = self._now()
        self._episode, self._episode_request, self._steps = episode, dict(request), []
        objects = [{"name": o.name, "kind": o.kind, "color": o.color, "mask_id": o.mask_id,
                    "size": o.size.tolist(), "position": np.round(o.position, 4).tolist()}
                   for o in self._initial_objects]
        info = {**self._episode_request, "task": episode.task, "seed": episode.seed,
                "instruction": episode.instruction, "template_id": episode.template_id,
                "objects": objects, "goal": episode.goal, "stamp": loaded_at}
        self.episode_pub.publish(String(data=json.dumps(info)))
        self.get_logger().info(f"loaded {episode.task} seed {episode.seed}: "
                               f"{episode.instruction!r}")

    def _on_episode_request(self, msg: String) -> None:
        try:
            request = json.loads(msg.data)
            if not isinstance(request, dict) or "task" not in request or "seed" not in request:
                raise ValueError("needs task and seed")
            self._load(request)
        except (ValueError, KeyError, TypeError) as err:
            self.get_logger().error(f"ignored episode request {msg.data[:200]!r}: {err}")

    def _on_reset(self, request, response):
        self._load(self._episode_request)
        response.success, response.message = True, "reloaded the current episode"
        return response

    def _on_plan(self, msg: String) -> None:
        self._steps.append(msg.data)

    def _on_check_success(self, request, response):
        from embodied_mm.tasks import TASKS

        calls = []
        for text in self._steps:
            try:
                calls.append(parse_step(text))
            except PlanError:
                continue
        with self._lock:
            final = self.observer.get_observation(images=False)
        striker = self._striker  # the task judges the world, removed objects included
        success = bool(TASKS[self._episode.task].success(
            self._episode, self._initial_objects, final, calls))
        if striker is not None:
            outcome = calls[-1].name if calls else "none"
            success = judge(striker.fault, self._episode.goal, success, outcome)
        response.success = success
        response.message = json.dumps({
            "success": success, "task": self._episode.task, "seed": self._episode.seed,
            "steps": self._steps,
            "perturbation": striker.fault.to_dict() if striker is not None else None})
        return response

    # -- control -------------------------------------------------------------------------------
    def _on_trajectory(self, msg: JointTrajectory, follower: TrajectoryFollower,
                       which: str) -> None:
        if self._estop.engaged:
            self.get_logger().warning(f"e-stop active: {which} trajectory ignored",
                                   throttle_duration_sec=2.0)
            return
        try:
            start = from_time(msg.header.stamp) or self._now()
            with self._lock:
                current = self._current(follower)
                if follower is self._arm and self._motion_start is None:
                    self._motion_start = self.world.sim_time
            follower.set(msg, start, current)
        except MessageError as err:
            self.get_logger().error(f"rejected {which} trajectory: {err}")

    def _current(self, follower: TrajectoryFollower) -> np.ndarray:
        q, width = self.world.joint_state()
        return q if follower is self._arm else np.full(2, width / 2)

    def _on_estop(self, engaged: bool) -> None:
        if engaged:
            with self._lock:
                q, width = self.world.joint_state()
                self._arm.hold(q)  # stop where it is; stays until a trajectory after release
                self._ramp.reset(q)
                self._gripper.hold(np.full(2, width / 2))
        self.get_logger().warning("E-STOP engaged: holding position" if engaged
                                  else "e-stop released")

    def _physics_tick(self) -> None:
        self._step_physics()
        self._publish_rendered_frame()

    def _step_physics(self) -> None:
        """Steps the world to catch up with the wall clock and publishes the joint state."""
        now = self._now()
        with self._lock:
            behind = (now - self._wall_start) - self.world.sim_time
            steps = int(np.clip(round(behind * 240), 0, 48))
            if steps == 0:
                return
            # The command holds for `steps` physics steps: the speed limit is over that time.
            arm = self._ramp.step(self._arm.target(now), steps / 240,
                                  self.world.joint_state()[0])
            fingers = self._gripper.target(now)
            self.world.command_joints(arm, float(fingers.sum()))
            self.world.step(steps)
            if behind * 240 > 48:  # far behind (slow machine): don't try to catch up
                self._wall_start = now - self.world.sim_time
            self._maybe_strike()
            q, width = self.world.joint_state()
            velocities = self.world.joint_velocities()
        self.joint_pub.publish(joint_state_msg(q, width, now, velocities))

    def _maybe_strike(self) -> None:
        """Lets this episode's fault strike once it is due (caller holds the lock)."""
        striker = self._striker
        if striker is None or not striker.pending or self._motion_start is None:
            return
        ticks = int((self.world.sim_time - self._motion_start) * FAULT_TICK_HZ)
        if ticks < striker.fault.due_tick:
            return
        obs = self.observer.get_observation(images=False)
        obs.objects = striker.visible(obs.objects)
        striker.tick(ticks, obs)
        if not striker.pending:
            fault = striker.fault
            self.get_logger().warning(f"fault injected: {fault.applied} {fault.object} at "
                                      f"{fault.at_s:.2f} s")

    def _on_skill_status(self, msg: DiagnosticStatus) -> None:
        status = status_from_msg(msg)
        if status.get("source") == "executor" and status.get("status") in topics.STEP_FINISHED:
            self._camera_timer.reset()  # the next periodic frame a full period after this one
            self._camera_tick(on_demand=True)

    def _camera_tick(self, on_demand: bool = False) -> None:
        """Takes a frame: the last one again, newly stamped, if the world has not moved since
        it was rendered; else the world's pose goes to the render process (stamped now, the
        moment it shows) and the frame is published when ready (`_publish_rendered_frame`).

        While a frame renders, a periodic tick is dropped, as a camera drops frames it cannot
        keep up with (on a machine where rendering takes longer than the period, queueing them
        kept the render process busy all the time, and a finished skill's frame waited for
        the one in flight); a frame taken `on_demand` (a skill ended) is taken right after."""
        with self._lock:
            pose = self.world.pose_vector()
            now = self._now()
        if self._frame is not None and _same_pose(pose, self._frame_pose):
            self._publish_frame(now)
        elif not self._renderer.submit(pose, tag=now):
            if on_demand:
                self._frame_wanted = True
            else:
                self.frames_dropped += 1

    def _publish_rendered_frame(self) -> None:
        frame = self._renderer.result()
        if frame is not None:
            self._frame = (image_to_msg(frame.rgb, "rgb8"), image_to_msg(frame.depth, "32FC1"),
                           image_to_msg(frame.segmentation, "32SC1"), self._info)
            self._frame_pose = frame.pose
            self.frames_rendered += 1
            self._publish_frame(frame.tag)
        if self._frame_wanted and not self._renderer.busy:
            self._frame_wanted = False
            self._camera_tick(on_demand=True)

    def _publish_frame(self, stamp: float) -> None:
        self.frames_published += 1
        for msg, pub in zip(self._frame, (self.color_pub, self.depth_pub, self.seg_pub,
                                          self.info_pub)):
            msg.header.stamp = to_time(stamp)
            pub.publish(msg)

    def _camera_info(self) -> CameraInfo:
        c = self.world.camera.config
        k = c.intrinsics
        info = CameraInfo(width=c.width, height=c.height, distortion_model="plumb_bob",
                          d=[0.0] * 5, k=k.flatten().tolist(),
                          r=np.eye(3).flatten().tolist(),
                          p=np.hstack([k, np.zeros((3, 1))]).flatten().tolist())
        info.header.frame_id = "camera_color_optical_frame"
        return info

    def close(self) -> None:
        self.get_logger().info(f"camera: {self.frames_published} frames published, "
                               f"{self.frames_rendered} rendered (the rest showed a still world), "
                               f"{self.frames_dropped} dropped while one rendered")
        self._renderer.close()
        self.world.close()


def main(args: list[str] | None = None) -> int:
    return run_node(SimNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
