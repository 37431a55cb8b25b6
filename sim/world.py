"""The tabletop world: one PyBullet client holding a table, a Panda, objects and a camera.

Each `TabletopWorld` owns its own physics client (never a global one), so several worlds can
live in one process. Physics runs at 240 Hz. Objects are named `obj_1 … obj_N` in the order the
scene lists them.

Example:
    >>> from sim.world import TabletopWorld
    >>> from sim.objects import ObjectSpec
    >>> with TabletopWorld() as world:
    ...     world.reset([ObjectSpec("block", "red", (0.5, 0.0))])
    ...     print([o.description for o in world.object_states()])
    ['red block']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embodied_mm.robots.kinematics import HOME
from embodied_mm.tasks.specs import ObjectSpec
from embodied_mm.types import ObjectState
from sim.bullet import p, pybullet_data
from sim.camera import Camera, CameraConfig
from sim.objects import create_body

PHYSICS_HZ = 240
ARM_JOINTS = tuple(range(7))
FINGER_JOINTS = (9, 10)
ARM_FORCES = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)  # N·m, Panda ratings
FINGER_FORCE = 20.0  # N per finger
TABLE_COLOR = (0.78, 0.70, 0.58, 1.0)
# pybullet_data's Panda with lighter visual meshes (`python -m sim.simplify_meshes`): the same
# URDF and collision meshes, so the same physics; frames render in ~55% of the time (the
# original's 100k visual triangles were ~34 ms of a 58 ms 320×240 frame) and differ from the
# original's only along the arm's outline (≥ 0.99 IoU of its mask, objects' masks identical).
PANDA_URDF = Path(__file__).parent / "assets" / "franka_panda" / "panda.urdf"


class TabletopWorld:
    """A PyBullet tabletop scene with its own client.

    Args:
        gui: open PyBullet's window (needs a display); headless otherwise.
        camera: camera configuration.
    """

    def __init__(self, gui: bool = False, camera: CameraConfig | None = None) -> None:
        self.client = p.connect(p.GUI if gui else p.DIRECT)
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=self.client)
        self.camera = Camera(camera or CameraConfig(), self.client)
        self._bodies: list[int] = []
        self._specs: list[ObjectSpec] = []
        self._rebuild()

    def _rebuild(self) -> None:
        """Empties the physics world and builds table and robot afresh.

        Every reset starts from this, so an episode's physics depends only on its scene, never
        on the episodes run before it in the same world (body ids, solver warm starts).
        """
        c = self.client
        p.resetSimulation(physicsClientId=c)
        p.setGravity(0, 0, -9.81, physicsClientId=c)
        p.setTimeStep(1.0 / PHYSICS_HZ, physicsClientId=c)
        half = [0.6, 0.8, 0.02]
        col = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=c)
        vis = p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=TABLE_COLOR,
                                  physicsClientId=c)
        self.table = p.createMultiBody(0, col, vis, [0.45, 0.0, -0.02], physicsClientId=c)
        p.changeDynamics(self.table, -1, lateralFriction=0.6, physicsClientId=c)
        flags = p.URDF_USE_SELF_COLLISION | p.URDF_ENABLE_CACHED_GRAPHICS_SHAPES
        self.robot = p.loadURDF(str(PANDA_URDF), [0, 0, 0], useFixedBase=True,
                                flags=flags, physicsClientId=c)
        for j in FINGER_JOINTS:
            p.changeDynamics(self.robot, j, lateralFriction=1.5, spinningFriction=0.01,
                             physicsClientId=c)
        # The real Panda's fingers are mechanically coupled; a gear constraint keeps them
        # symmetric so a held block cannot slide along the closing axis.
        gear = p.createConstraint(self.robot, FINGER_JOINTS[0], self.robot, FINGER_JOINTS[1],
                                  p.JOINT_GEAR, [1, 0, 0], [0, 0, 0], [0, 0, 0],
                                  physicsClientId=c)
        p.changeConstraint(gear, gearRatio=-1, erp=0.1, maxForce=50, physicsClientId=c)
        self.reset_robot()
        self._bodies = []
        self.sim_time = 0.0

    # -- scene ---------------------------------------------------------------------------------
    def reset(self, scene: Sequence[ObjectSpec], settle_steps: int = 60) -> None:
        """Starts afresh with the robot home and `scene` added in order (obj_1 first)."""
        self._rebuild()
        self._specs = list(scene)
        self._bodies = [create_body(spec, self.client) for spec in self._specs]
        self.step(settle_steps)
        self.sim_time = 0.0

    def reset_robot(self, joints: np.ndarray = HOME, gripper_width: float = 0.08) -> None:
        for j, q in zip(ARM_JOINTS, joints):
            p.resetJointState(self.robot, j, q, physicsClientId=self.client)
        for j in FINGER_JOINTS:
            p.resetJointState(self.robot, j, gripper_width / 2, physicsClientId=self.client)
        self.command_joints(np.asarray(joints), gripper_width)

    def remove_object(self, name: str) -> None:
        """Takes an object out of the scene (for fault injection); names of others stay."""
        index = self._index(name)
        p.resetBasePositionAndOrientation(self._bodies[index], [5.0 + index, 5.0, 0.1],
                                          [0, 0, 0, 1], physicsClientId=self.client)

    def move_object(self, name: str, xy: Sequence[float], z: float | None = None) -> None:
        """Teleports an object to `xy`, resting on the table unless `z` (its centre for a
        block) is given (for fault injection and tests)."""
        index = self._index(name)
        spec = self._specs[index]
        if z is None:
            z = spec.extent()[2] / 2 if spec.kind == "block" else 0.0
        _, orn = p.getBasePositionAndOrientation(self._bodies[index], physicsClientId=self.client)
        p.resetBasePositionAndOrientation(self._bodies[index], [xy[0], xy[1], z], orn,
                                          physicsClientId=self.client)
        p.resetBaseVelocity(self._bodies[index], [0, 0, 0], [0, 0, 0],
                            physicsClientId=self.client)

    def _index(self, name: str) -> int:
        names = [f"obj_{i + 1}" for i in range(len(self._bodies))]
        if name not in names:
            raise KeyError(f"no object {name!r} in the scene (known: {', '.join(names)})")
        return names.index(name)

    @property
    def specs(self) -> list[ObjectSpec]:
        return list(self._specs)

    def object_states(self) -> list[ObjectState]:
        """Ground-truth state of every object, named in scene order."""
        states = []
        for i, (body, spec) in enumerate(zip(self._bodies, self._specs)):
            pos, orn = p.getBasePositionAndOrientation(body, physicsClientId=self.client)
            center = np.asarray(pos)
            if spec.kind == "bowl":  # bowl origin is its base; report the box centre
                center = center + [0, 0, spec.extent()[2] / 2]
            states.append(ObjectState(f"obj_{i + 1}", spec.kind, spec.color, center,
                                      np.asarray(orn), spec.extent(), mask_id=body))
        return states

    # -- robot ---------------------------------------------------------------------------------
    def command_joints(self, joints: np.ndarray, gripper_width: float) -> None:
        """Sets position targets for the arm and fingers (reached by the motors over time)."""
        c = self.client
        p.setJointMotorControlArray(self.robot, ARM_JOINTS, p.POSITION_CONTROL,
                                    targetPositions=list(joints), forces=ARM_FORCES,
                                    positionGains=[0.3] * 7, physicsClientId=c)
        p.setJointMotorControlArray(self.robot, FINGER_JOINTS, p.POSITION_CONTROL,
                                    targetPositions=[gripper_width / 2] * 2,
                                    forces=[FINGER_FORCE] * 2, physicsClientId=c)

    def joint_state(self) -> tuple[np.ndarray, float]:
        """Arm joint angles (7,) and gripper width (m)."""
        states = p.getJointStates(self.robot, ARM_JOINTS + FINGER_JOINTS,
                                  physicsClientId=self.client)
        q = np.array([s[0] for s in states[:7]])
        return q, float(states[7][0] + states[8][0])

    def pose_vector(self) -> np.ndarray:
        """Everything a camera frame depends on that can change: every robot joint's position
        and each object's position and orientation, as one flat vector (m, rad, quaternion)."""
        c = self.client
        joints = p.getJointStates(self.robot, ARM_JOINTS + FINGER_JOINTS, physicsClientId=c)
        parts = [np.array([s[0] for s in joints])]
        for body in self._bodies:
            pos, orn = p.getBasePositionAndOrientation(body, physicsClientId=c)
            parts.append(np.array(pos + orn))
        return np.concatenate(parts)

    def show_pose(self, pose: np.ndarray) -> None:
        """Puts robot joints and objects where `pose` (a `pose_vector`) has them, without
        physics: for a render-only replica of a world with the same scene."""
        c = self.client
        joints = ARM_JOINTS + FINGER_JOINTS
        expected = len(joints) + 7 * len(self._bodies)
        if pose.shape != (expected,):
            raise ValueError(f"pose has {pose.shape} values; this scene needs ({expected},)")
        for j, q in zip(joints, pose[:len(joints)]):
            p.resetJointState(self.robot, j, float(q), physicsClientId=c)
        for body, part in zip(self._bodies, pose[len(joints):].reshape(-1, 7)):
            p.resetBasePositionAndOrientation(body, part[:3].tolist(), part[3:].tolist(),
                                              physicsClientId=c)

    def joint_velocities(self) -> np.ndarray:
        states = p.getJointStates(self.robot, ARM_JOINTS, physicsClientId=self.client)
        return np.array([s[1] for s in states])

    # -- time, images, state -------------------------------------------------------------------
    def step(self, n: int = 1) -> None:
        for _ in range(n):
            p.stepSimulation(physicsClientId=self.client)
        self.sim_time += n / PHYSICS_HZ

    def render(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.camera.render()

    def save_state(self) -> int:
        """Snapshot of the whole physics state, for replay; restore with `restore_state`."""
        return p.saveState(physicsClientId=self.client)

    def restore_state(self, state_id: int) -> None:
        p.restoreState(stateId=state_id, physicsClientId=self.client)

    def close(self) -> None:
        if self.client >= 0:
            p.disconnect(physicsClientId=self.client)
            self.client = -1

    def __enter__(self) -> TabletopWorld:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
