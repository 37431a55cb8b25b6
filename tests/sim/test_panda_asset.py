"""The sim's Panda (`sim/assets/franka_panda`) is pybullet_data's with lighter visual meshes:
the same physics, and frames that differ only along the arm's outline."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pytest

from embodied_mm.tasks.specs import ObjectSpec
from sim.bullet import p, pybullet_data
from sim.world import PANDA_URDF, TabletopWorld

pytestmark = pytest.mark.sim

ORIGINAL = Path(pybullet_data.getDataPath()) / "franka_panda"
SCENE = [ObjectSpec("block", "red", (0.45, 0.1)), ObjectSpec("bowl", "blue", (0.55, -0.15)),
         ObjectSpec("block", "green", (0.6, 0.05))]


def test_physics_files_are_pybullet_datas():
    ours = PANDA_URDF.parent
    assert filecmp.cmp(ours / "panda.urdf", ORIGINAL / "panda.urdf", shallow=False)
    collision = sorted(f.name for f in (ORIGINAL / "meshes" / "collision").iterdir())
    _, mismatch, errors = filecmp.cmpfiles(ours / "meshes" / "collision",
                                           ORIGINAL / "meshes" / "collision", collision,
                                           shallow=False)
    assert not mismatch and not errors


def _frames(world: TabletopWorld, poses: list[np.ndarray]):
    n = p.getNumJoints(world.robot, physicsClientId=world.client)
    for q in poses:
        for j in range(n):
            p.resetJointState(world.robot, j, q[j], physicsClientId=world.client)
        yield world.render()


def test_frames_match_the_original_arms_but_along_its_outline():
    with TabletopWorld() as ours, TabletopWorld() as original:
        for world in (ours, original):
            world.reset(SCENE)
        p.removeBody(original.robot, physicsClientId=original.client)
        original.robot = p.loadURDF(str(ORIGINAL / "panda.urdf"), useFixedBase=True,
                                    physicsClientId=original.client)
        n = p.getNumJoints(ours.robot, physicsClientId=ours.client)
        home = np.array([p.getJointState(ours.robot, j, physicsClientId=ours.client)[0]
                         for j in range(n)])
        rng = np.random.default_rng(0)
        poses = [home] + [home + rng.normal(0, 0.4, n) for _ in range(3)]
        for (rgb, depth, seg), (rgb0, depth0, seg0) in zip(_frames(ours, poses),
                                                          _frames(original, poses)):
            arm, arm0 = seg == ours.robot, seg0 == original.robot
            assert (arm & arm0).sum() / (arm | arm0).sum() > 0.98
            ids = [o.mask_id for o in original.object_states()]
            objects = ~(arm | arm0) & np.isin(seg0, ids)  # objects the arm hides in neither
            assert objects.any() and np.array_equal(seg[objects], seg0[objects])
            assert np.array_equal(depth[objects], depth0[objects])
            both = arm & arm0
            assert np.abs(rgb[both].astype(int) - rgb0[both].astype(int)).mean() < 12
