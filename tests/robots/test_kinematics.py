"""Panda kinematics: FK agrees with PyBullet's URDF model; IK reaches table-top targets."""

from __future__ import annotations

import numpy as np
import pytest

from embodied_mm.robots.kinematics import PandaKinematics, top_down_rotation


@pytest.mark.sim
def test_forward_kinematics_matches_pybullet(world):
    from sim.bullet import p

    kin = PandaKinematics()
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = rng.uniform(kin.lower, kin.upper)
        for j in range(7):
            p.resetJointState(world.robot, j, q[j], physicsClientId=world.client)
        state = p.getLinkState(world.robot, 11, computeForwardKinematics=1,
                               physicsClientId=world.client)
        pos, rot = kin.forward(q)
        np.testing.assert_allclose(pos, state[4], atol=1e-6)
        expected = np.array(p.getMatrixFromQuaternion(state[5])).reshape(3, 3)
        np.testing.assert_allclose(rot, expected, atol=1e-6)


def test_inverse_kinematics_reaches_table_targets():
    kin = PandaKinematics()
    rng = np.random.default_rng(1)
    for _ in range(50):
        target = rng.uniform([0.3, -0.3, 0.01], [0.7, 0.3, 0.3])
        yaw = rng.uniform(-np.pi / 4, np.pi / 4)
        q = kin.inverse(target, yaw, seed=kin.home)
        pos, rot = kin.forward(q)
        assert np.linalg.norm(pos - target) < 1e-3
        assert np.abs(rot - top_down_rotation(yaw)).max() < 1e-2
        assert np.all(q >= kin.lower) and np.all(q <= kin.upper)
