"""`perception_node`: objects from the RGB-D camera → `/embodied_mm/objects` + features.

Modes: `gt` uses the sim's segmentation ids (and the object table the sim publishes on
`/embodied_mm/episode`); `color` uses OpenCV colour segmentation and depth back-projection, and
works with a real RGB-D camera over a plain table; `learned` uses the instance model
trained on randomised sim renders (`embodied_mm.perception.learned`, docs/perception.md),
also camera-only. Frames are processed in a worker thread
(never in the image callback); only the newest synchronised colour/depth(/segmentation)
triple is used. Depth may be `32FC1` metres or `16UC1` millimetres (0 = no reading), told
apart by each message's encoding. Intrinsics come from `CameraInfo`; the camera's pose in the
robot base frame from the calibration file `camera_calibration` (`embodied_mm.ros.calibration`,
docs/hardware.md) or, without one, from the look-at parameters `camera_eye`/`camera_target`/
`camera_up` (the sim camera's in configs/ros/perception.yaml). The output is stamped with the
camera frame's stamp, and so are the objects' instance masks on `/embodied_mm/object_masks`
(32SC1, pixel = the object's `mask_id`; `embodied_mm.perception.masks`): in `gt` mode the
sim's segmentation, in the camera-only modes the detector's own masks, which is what the
planner's `objects` input reads on a real camera. A frame whose pixels are
byte for byte those of the last one processed (the sim re-publishes a still world's frame with
a fresh stamp) gets the same objects again without running the detector, so a still scene
costs the CPU next to nothing while the planner decides.

The camera-only modes also read `/joint_states` (joint names: the `arm_joints`/`finger_joints`
parameters) and fill short gaps with `embodied_mm.robots.object_memory.ObjectMemory`: a block
in the closed gripper follows the hand (which hides it), and an object missed beside the arm,
where the depth image shows something in front of its last pose (the arm's links), or for less
than `object_memory_s` seconds (default 0.5) in plain view, stays at its last pose; an object
that first shows up beside the arm (a piece of the arm taken for a block) is left out until it
is seen away from it. Names follow the memory's objects. In `learned` mode the robot's own
pixels, rendered from its URDF (`robot_urdf`, the sim's Panda by default) at the joint state
of the frame's capture time, are kept out of every object's mask
(`embodied_mm.perception.self_filter`; `self_filter:=false` turns it off).

With `frames_dir` set, every frame the detector runs on is also written there in the
perception dataset's format (`embodied_mm.perception.dataset`, docs/perception.md), its
detections as pre-labels: frames of a real camera to correct and fine-tune on, or a graph
run's frames to run the detector on again offline.

Example:
    python -m embodied_mm.ros.perception_node --ros-args -p mode:=color \
        -p camera_calibration:=configs/ros/camera_calibration.yaml
"""

from __future__ import annotations

import bisect
import json
import threading
from collections import deque

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float32MultiArray, MultiArrayDimension, String
from visualization_msgs.msg import MarkerArray

from embodied_mm.robots.kinematics import PandaKinematics, rotation_to_quaternion
from embodied_mm.robots.object_memory import ObjectMemory
from embodied_mm.ros import qos as ros_qos
from embodied_mm.ros import topics
from embodied_mm.ros.calibration import load_camera_pose
from embodied_mm.ros.conversions import (
    MessageError,
    depth_from_msg,
    from_time,
    image_from_msg,
    image_to_msg,
    joint_state_from_msg,
    objects_to_markers,
)
from embodied_mm.ros.node_utils import param, run_node
from embodied_mm.ros.ros2_robot import joint_names_param
from embodied_mm.scene import object_feature_vector
from embodied_mm.types import Observation

MODES = ("gt", "color", "learned")
# Colour/depth/segmentation stamps closer than this are one frame. Tighter than any camera
# period: the sim stamps a frame's three images alike, and a frame it renders the moment a skill
# ends may follow the periodic one by ~25 ms, whose depth must not be taken for the new one's.
SYNC_TOLERANCE_S = 0.005
JOINT_MATCH_S = 0.1  # s: a joint state farther from a frame's capture time is not its
JOINT_HISTORY = 300  # joint states kept to match a frame's capture time (3 s at 100 Hz)


class PerceptionNode(Node):
    """Detects objects in the newest camera frame and publishes them."""

    def __init__(self) -> None:
        super().__init__("perception")
        self.mode = str(param(self, "mode", "gt"))
        if self.mode not in MODES:
            raise ValueError(f"perception mode must be one of {', '.join(MODES)}, "
                             f"got {self.mode!r}")
        self.cam_to_base = self._extrinsics()
        # A camera whose colour and depth are not hardware-synchronised needs more: about half
        # its frame period (configs/ros/perception.yaml).
        self.sync_tolerance_s = float(param(self, "sync_tolerance_s", SYNC_TOLERANCE_S))
        self._latest: dict[str, object] = {}
        self._object_table: list[dict] | None = None
        # Camera-only modes: every object of this scene by name, where it was last seen (a sim
        # scene starts from its table): a detection of the same colour and kind nearest to one
        # takes its name, so a name never passes to another object, and an object missed for
        # a few frames gets its own name back.
        self._known: dict[str, object] = {}
        # The names a scene began with (its table, else its first frame's objects): a name
        # known only later may not take one of them from its object (`name_detections`).
        self._founding: set[str] | None = None
        # The last frame detected: its messages, objects and instance-mask image.
        self._last: tuple[list[Image], list, np.ndarray] | None = None
        self.memory = ObjectMemory(float(param(self, "object_memory_s", 0.5)))
        self._joint_states: deque[tuple[float, JointState]] = deque(maxlen=JOINT_HISTORY)
        self._joints_lock = threading.Lock()
        # A new scene may arrive while a frame of the last one is being detected: the scene
        # counter tells, and the lock keeps the reset and a frame's memory update apart.
        self._scene_lock = threading.Lock()
        self._scene = 0
        self._scene_stamp = 0.0  # s: when the sim loaded the current scene (its frames are later)
        self._kinematics = PandaKinematics()
        self._joints = joint_names_param(self)
        self.frames = self.frames_detected = 0
        self._frames_dir = str(param(self, "frames_dir", ""))
        self._self_filter = None
        if self.mode == "learned" and bool(param(self, "self_filter", True)):
            from embodied_mm.perception.self_filter import SelfFilter

            self._self_filter = SelfFilter(str(param(self, "robot_urdf", "")) or None,
                                           float(param(self, "self_filter_tolerance", 0.01)))
        self._camera = None
        self._new_frame = threading.Event()
        self._closing = False
        self.objects_pub = self.create_publisher(MarkerArray, topics.OBJECTS, ros_qos.RELIABLE_QOS)
        self.features_pub = self.create_publisher(Float32MultiArray, topics.OBJECT_FEATURES,
                                                  ros_qos.RELIABLE_QOS)
        self.masks_pub = self.create_publisher(Image, topics.OBJECT_MASKS, ros_qos.SENSOR_QOS)
        for key, topic in (("rgb", topics.COLOR), ("depth", topics.DEPTH)):
            self.create_subscription(Image, topic, lambda m, k=key: self._store(k, m),
                                     ros_qos.LATEST_QOS)
        if self.mode == "gt":
            self.create_subscription(Image, topics.SEGMENTATION,
                                     lambda m: self._store("seg", m), ros_qos.LATEST_QOS)
        if self.mode != "gt":
            self.create_subscription(JointState, topics.JOINT_STATES, self._on_joints,
                                     ros_qos.LATEST_QOS)
        # Only a sim publishes episodes; the camera-only modes take names from its table.
        self.create_subscription(String, topics.EPISODE, self._on_episode, ros_qos.LATCHED_QOS)
        self.create_subscription(CameraInfo, topics.COLOR_INFO, self._on_info, ros_qos.LATEST_QOS)
        threading.Thread(target=self._work, daemon=True).start()
        self.get_logger().info(f"perception mode {self.mode}")

    def _extrinsics(self) -> np.ndarray:
        """(4, 4) optical frame -> robot base: the calibration file's, else the look-at's."""
        from embodied_mm.perception.geometry import look_at

        calibration = str(param(self, "camera_calibration", ""))
        eye = list(param(self, "camera_eye", [1.15, 0.0, 0.75]))
        target = list(param(self, "camera_target", [0.5, 0.0, 0.0]))
        up = list(param(self, "camera_up", [0.0, 0.0, 1.0]))
        pose = load_camera_pose(calibration) if calibration else look_at(eye, target, up)
        where = calibration or "camera_eye/camera_target/camera_up"
        self.get_logger().info(f"camera at {np.round(pose[:3, 3], 3).tolist()} m, looking along "
                               f"{np.round(pose[:3, 2], 3).tolist()} (from {where})")
        return pose

    def _store(self, key: str, msg: Image) -> None:
        self._latest[key] = msg
        self._new_frame.set()

    def _on_joints(self, msg: JointState) -> None:
        # Kept by stamp: a frame is matched with the arm's state when it was taken, not with
        # the newest (the arm moves on while a frame waits for the detector).
        with self._joints_lock:
            self._joint_states.append((from_time(msg.header.stamp), msg))

    def _on_episode(self, msg: String) -> None:
        """A new sim scene. `gt` mode reads its object table; the camera-only modes name what
        they see after it (the nearest table object of the same colour and kind), so names
        are the scene's own and not the last scene's leftovers: the episode runner and the
        oracle refer to objects by the sim's names. Detection still uses the camera alone."""
        info = json.loads(msg.data)
        table = info["objects"]
        with self._scene_lock:
            self._scene += 1
            # A frame taken before the scene was loaded shows the last one, however late it
            # arrives: named after this table it would pass the last scene's objects off as its.
            self._scene_stamp = float(info.get("stamp", 0.0))
            self._object_table = table
            self._known = {entry["name"]: entry for entry in table}
            self._founding = set(self._known)
            self.memory.reset()
            self._last = None  # a new scene: the same pixels may mean other objects

    def _on_info(self, msg: CameraInfo) -> None:
        from embodied_mm.perception import CameraModel

        k = np.asarray(msg.k, dtype=float).reshape(3, 3)
        if self._camera is None or not np.allclose(self._camera.K, k):
            self._camera = CameraModel(int(msg.width), int(msg.height), k, self.cam_to_base)
            self._last = None

    def _synchronised(self):
        keys = ("rgb", "depth", "seg") if self.mode == "gt" else ("rgb", "depth")
        msgs = [self._latest.get(k) for k in keys]
        if any(m is None for m in msgs) or self._camera is None:
            return None
        stamp = frame_stamp(msgs, self.sync_tolerance_s)
        return None if stamp is None else (msgs, stamp)

    def _work(self) -> None:
        last_stamp = None
        while not self._closing:
            self._new_frame.wait(timeout=0.5)
            self._new_frame.clear()
            frame = self._synchronised()
            if frame is None or frame[1] == last_stamp:
                continue
            msgs, stamp = frame
            scene = self._scene
            try:
                arm = self._arm_state(stamp)  # the arm when the frame was taken
                objects, masks = self._objects(msgs, stamp, arm)
            except MessageError as err:
                self.get_logger().warning(f"dropped camera frame: {err}", throttle_duration_sec=2.0)
                continue
            last_stamp = stamp
            with self._scene_lock:
                if scene != self._scene:  # named after the last scene's objects: drop it
                    self._last = None
                    continue
                if stamp < self._scene_stamp:  # taken before this scene was loaded
                    self._last = None
                    continue
                if self.mode != "gt":
                    # Names follow what the memory believes: a carried block at the hand, and
                    # no name kept for a detection it left out.
                    objects = self._remembered(objects, stamp, msgs[1], arm)
                    self._known.update((o.name, o) for o in objects)
                    if self._founding is None and objects:
                        self._founding = {o.name for o in objects}
            self.masks_pub.publish(image_to_msg(masks, "32SC1", stamp,
                                                frame_id=msgs[0].header.frame_id))
            self.objects_pub.publish(objects_to_markers(objects, stamp))
            self.features_pub.publish(_features_msg(objects))

    def _remembered(self, objects: list, stamp: float, depth_msg: Image,
                    arm: tuple[np.ndarray, float] | None) -> list:
        """`objects` with the gaps `self.memory` knows how to fill, given the arm's state when
        the frame was taken (without a joint state then, `objects` as they are) and what the
        frame's depth shows in front of a missed object's last pose (its top centre; decoded
        only when an object is missed)."""
        from embodied_mm.perception.geometry import view_blocked

        if arm is None:
            return objects
        q, width = arm
        position, rotation = self._kinematics.forward(q)
        obs = Observation(joint_positions=q, gripper_width=width,
                          ee_pose=np.concatenate([position, rotation_to_quaternion(rotation)]),
                          objects=objects, stamp=stamp, objects_stamp=stamp)
        camera, depth = self._camera, []

        def hidden(obj) -> bool:
            if not depth:
                depth.append(depth_from_msg(depth_msg))
            top = np.asarray(obj.position) + [0.0, 0.0, float(obj.size[2]) / 2]
            return bool(view_blocked(camera, depth[0], top[None])[0])

        return self.memory.update(obs, hidden).objects

    def _joints_at(self, stamp: float) -> JointState | None:
        """The joint state nearest in time to `stamp`, if one lies within 0.1 s of it."""
        with self._joints_lock:
            states = list(self._joint_states)
        if not states:
            return None
        i = bisect.bisect_left([t for t, _ in states], stamp)
        near = min(states[max(i - 1, 0):i + 1], key=lambda s: abs(s[0] - stamp))
        if abs(near[0] - stamp) > JOINT_MATCH_S:
            self.get_logger().warning(
                f"no /joint_states within {JOINT_MATCH_S} s of the camera frame (nearest "
                f"{near[0] - stamp:+.2f} s): objects published without the object memory",
                throttle_duration_sec=5.0)
            return None
        return near[1]

    def _objects(self, msgs: list[Image], stamp: float, arm: tuple[np.ndarray, float] | None
                 ) -> tuple[list, np.ndarray]:
        """(the objects in this frame, their instance-mask image): the last frame's again if
        its pixels are the same."""
        self.frames += 1
        last = self._last
        if last is not None and all(_same_pixels(a, b) for a, b in zip(msgs, last[0])):
            return last[1], last[2]
        objects, masks = self._detect(msgs, arm)
        self.frames_detected += 1
        if self._frames_dir:
            self._save_frame(msgs, stamp, objects, masks, arm)
        self._last = (msgs, objects, masks)
        return objects, masks

    def _arm_state(self, stamp: float) -> tuple[np.ndarray, float] | None:
        """(arm joint angles, gripper width) when the frame was taken, if known (camera-only
        modes)."""
        msg = None if self.mode == "gt" else self._joints_at(stamp)
        if msg is None:
            return None
        try:
            return joint_state_from_msg(msg, self._joints)
        except MessageError:
            return None

    def _detect(self, msgs, arm: tuple[np.ndarray, float] | None) -> tuple[list, np.ndarray]:
        from embodied_mm.perception import detect_color, detect_gt
        from embodied_mm.perception.masks import mask_image

        rgb = image_from_msg(msgs[0], "rgb8")
        depth = depth_from_msg(msgs[1])  # 32FC1 m or 16UC1 mm -> m, NaN where no reading
        if rgb.shape[:2] != depth.shape:
            raise MessageError(f"colour {rgb.shape[:2]} and depth {depth.shape} sizes differ")
        if self.mode == "gt":
            if self._object_table is None:
                raise MessageError("no object table yet on /embodied_mm/episode")
            seg = image_from_msg(msgs[2], "32SC1")
            objects = detect_gt(rgb, depth, seg, self._camera, self._object_table)
            ids = [o.mask_id for o in objects]
            return objects, np.where(np.isin(seg, ids), seg, 0).astype(np.int32)  # no robot
        # Keep names stable across frames: match (colour, kind) to what was seen before.
        masks: dict[str, np.ndarray] = {}
        known = list(self._known.values())
        if self.mode == "learned":
            from embodied_mm.perception.learned import detect_learned

            late = set() if self._founding is None else set(self._known) - self._founding
            robot = None
            if self._self_filter is not None and arm is not None:
                robot = self._self_filter.mask(self._camera, depth, *arm)
            objects = detect_learned(rgb, depth, self._camera, known=known, masks=masks,
                                     late=late, robot=robot)
        else:
            objects = detect_color(rgb, depth, self._camera, known=known, masks=masks)
        return mask_image(objects, masks, depth.shape)

    def _save_frame(self, msgs: list[Image], stamp: float, objects: list,
                    masks: np.ndarray, arm: tuple[np.ndarray, float] | None) -> None:
        """Writes the frame and its detections (pre-labels) to `frames_dir`, numbered in
        the order detected, with the arm's state when it was taken if known."""
        from pathlib import Path

        from embodied_mm.perception.dataset import Frame, save_frame

        depth = depth_from_msg(msgs[1])
        instances = np.zeros(masks.shape, np.uint8)
        for k, obj in enumerate(objects, start=1):
            instances[masks == obj.mask_id] = k
        labels = [{"kind": o.kind, "color": o.color, "position": np.round(o.position, 4).tolist(),
                   "size": np.round(o.size, 4).tolist()} for o in objects]
        frame = Frame(image_from_msg(msgs[0], "rgb8"),
                      np.clip(np.nan_to_num(np.round(depth * 1000)), 0, 65535).astype(np.uint16),
                      instances, self._camera, labels,
                      {"stamp": stamp, "mode": self.mode,
                       **({} if arm is None else {"joints": np.round(arm[0], 5).tolist(),
                                                  "gripper_width": round(float(arm[1]), 5)})})
        folder = Path(self._frames_dir)
        folder.mkdir(parents=True, exist_ok=True)
        save_frame(frame, folder, self.frames_detected - 1)

    def close(self) -> None:
        self._closing = True
        self._new_frame.set()
        self.get_logger().info(f"camera: {self.frames} frames, {self.frames_detected} detected "
                               "(the others repeated the last frame's pixels)")


def frame_stamp(msgs: list[Image], tolerance: float = SYNC_TOLERANCE_S) -> float | None:
    """The capture time of images that are one frame (stamps within `tolerance`: the oldest),
    or None when they are parts of different frames."""
    stamps = [from_time(m.header.stamp) for m in msgs]
    return min(stamps) if max(stamps) - min(stamps) <= tolerance else None


def _same_pixels(a: Image, b: Image) -> bool:
    """Whether two image messages carry the same picture (layout and bytes)."""
    layout = (a.width, a.height, a.encoding, a.step)
    return a is b or (layout == (b.width, b.height, b.encoding, b.step) and a.data == b.data)


def _features_msg(objects) -> Float32MultiArray:
    """N×D object features (position, size, colour rgb, is-block), row-major."""
    rows = np.array([object_feature_vector(o) for o in objects], dtype=np.float32)
    rows = rows.reshape(len(objects), -1) if len(objects) else np.zeros((0, 10), np.float32)
    msg = Float32MultiArray(data=rows.flatten().tolist())
    msg.layout.dim = [MultiArrayDimension(label="objects", size=rows.shape[0],
                                          stride=rows.size),
                      MultiArrayDimension(label="features", size=rows.shape[1],
                                          stride=rows.shape[1])]
    return msg


def main(args: list[str] | None = None) -> int:
    return run_node(PerceptionNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
