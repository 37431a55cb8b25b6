"""Topic and service names, message types and joint names of the graph (docs/design.md).

Plain strings, no rclpy: the MCAP readers, `embodied-mm report` and `export` use them without
a ROS 2 install. The QoS profiles live in `embodied_mm.ros.qos`.
"""

from __future__ import annotations

COLOR = "/camera/color/image_raw"
COLOR_INFO = "/camera/color/camera_info"
DEPTH = "/camera/depth/image_raw"
SEGMENTATION = "/camera/segmentation/image_raw"
JOINT_STATES = "/joint_states"
OBJECTS = "/embodied_mm/objects"
OBJECT_FEATURES = "/embodied_mm/object_features"
# Perception's instance masks (32SC1, pixel = the object's `mask_id` in OBJECTS, 0 = none),
# stamped like OBJECTS: what the planner's `objects` input pools image features in.
OBJECT_MASKS = "/embodied_mm/object_masks"
INSTRUCTION = "/embodied_mm/instruction"
PLAN = "/embodied_mm/plan"
SKILL_STATUS = "/embodied_mm/skill_status"
# Skill statuses that end a step (`stale`: it was not run for lack of fresh input).
STEP_FINISHED = frozenset({"succeeded", "failed", "invalid", "terminal", "estop", "aborted",
                           "stale"})
ARM_TRAJECTORY = "/arm_controller/joint_trajectory"
GRIPPER_TRAJECTORY = "/gripper_controller/joint_trajectory"
TELEOP_TWIST = "/embodied_mm/teleop/twist"
ESTOP = "/embodied_mm/estop"
RESET = "/embodied_mm/reset"
# Additions of ours (documented in docs/ros.md):
EPISODE = "/embodied_mm/episode"  # std_msgs/String JSON: the loaded episode (latched)
EPISODE_REQUEST = "/embodied_mm/episode_request"  # std_msgs/String JSON: {task, seed, ...}
CHECK_SUCCESS = "/embodied_mm/check_success"  # std_srvs/Trigger: success of the episode
QUESTION = "/embodied_mm/question"  # std_msgs/String: a scene question (`is obj_1 in obj_2?`)
ANSWER = "/embodied_mm/answer"  # std_msgs/String JSON: {question, answer, source} or {…, error}
# Teleoperated evaluation (docs/teleop.md):
PLAN_PROPOSED = "/embodied_mm/plan/proposed"  # std_msgs/String: planner's step before approval
TELEOP_ACTIVE = "/embodied_mm/teleop/active"  # std_msgs/Bool (latched): operator has control
TELEOP_GRIPPER = "/embodied_mm/teleop/gripper"  # std_msgs/Bool: true = close while taken over
TELEOP_STEPS = "/embodied_mm/teleop/steps"  # std_msgs/String JSON: a step sent, intervention
TELEOP_LABEL = "/embodied_mm/teleop/label"  # std_msgs/String JSON: operator's episode label

ARM_JOINTS = tuple(f"panda_joint{i}" for i in range(1, 8))
FINGER_JOINTS = ("panda_finger_joint1", "panda_finger_joint2")

# Message type of every topic (package/Type), for the recorder and tools.
TOPIC_TYPES: dict[str, str] = {
    COLOR: "sensor_msgs/Image",
    COLOR_INFO: "sensor_msgs/CameraInfo",
    DEPTH: "sensor_msgs/Image",
    SEGMENTATION: "sensor_msgs/Image",
    JOINT_STATES: "sensor_msgs/JointState",
    OBJECTS: "visualization_msgs/MarkerArray",
    OBJECT_FEATURES: "std_msgs/Float32MultiArray",
    OBJECT_MASKS: "sensor_msgs/Image",
    INSTRUCTION: "std_msgs/String",
    PLAN: "std_msgs/String",
    QUESTION: "std_msgs/String",
    ANSWER: "std_msgs/String",
    SKILL_STATUS: "diagnostic_msgs/DiagnosticStatus",
    ARM_TRAJECTORY: "trajectory_msgs/JointTrajectory",
    GRIPPER_TRAJECTORY: "trajectory_msgs/JointTrajectory",
    TELEOP_TWIST: "geometry_msgs/TwistStamped",
    ESTOP: "std_msgs/Bool",
    EPISODE: "std_msgs/String",
    PLAN_PROPOSED: "std_msgs/String",
    TELEOP_ACTIVE: "std_msgs/Bool",
    TELEOP_GRIPPER: "std_msgs/Bool",
    TELEOP_STEPS: "std_msgs/String",
    TELEOP_LABEL: "std_msgs/String",
}
