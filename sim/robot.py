"""`SimRobot`: the `Robot` interface over a `TabletopWorld`, stepping physics per command.

Each `send_action` sets joint targets and advances the world by one control period
(240 Hz / control_hz physics steps), so the in-process loop runs as fast as the CPU allows
and is deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np

from embodied_mm.robots.base import Robot, RobotLimits
from embodied_mm.robots.kinematics import rotation_to_quaternion
from embodied_mm.types import JointAction, Observation
from sim.world import PHYSICS_HZ, TabletopWorld


class SimRobot(Robot):
    """The simulated Panda; observations carry the simulator's ground-truth object states."""

    def __init__(self, world: TabletopWorld, limits: RobotLimits | None = None,
                 control_hz: float = 20.0) -> None:
        super().__init__(limits, control_hz)
        if PHYSICS_HZ % control_hz:
            raise ValueError(f"control_hz must divide {PHYSICS_HZ}, got {control_hz}")
        self.world = world
        self._substeps = int(PHYSICS_HZ // control_hz)

    def _observe(self, images: bool) -> Observation:
        q, width = self.world.joint_state()
        pos, rot = self.kinematics.forward(q)
        obs = Observation(joint_positions=q, gripper_width=width,
                          ee_pose=np.concatenate([pos, rotation_to_quaternion(rot)]),
                          objects=self.world.object_states(), stamp=self.world.sim_time)
        if images:
            obs.rgb, obs.depth, obs.segmentation = self.world.render()
        return obs

    def joint_positions(self) -> np.ndarray:
        return self.world.joint_state()[0]

    def _command(self, action: JointAction) -> None:
        self.world.command_joints(action.joint_positions, action.gripper_width)
        self.world.step(self._substeps)
