"""Spatial predicates: strict on the simulator's state, with room for camera error where a
skill or an oracle judges from perceived poses."""

from __future__ import annotations

import numpy as np

from embodied_mm.scene import CAMERA_SLACK, is_on
from embodied_mm.tasks.base import move_into
from embodied_mm.types import ObjectState, Observation


def _block(name: str, xyz, edge: float) -> ObjectState:
    return ObjectState(name, "block", "red", np.asarray(xyz, float), np.array([0, 0, 0, 1.0]),
                       np.full(3, edge))


def test_a_stacked_block_seen_through_a_camera_counts_as_on_and_one_a_block_higher_never():
    base = _block("obj_1", [0.6, 0.0, 0.024], 0.035)  # a 4 cm block, seen 5 mm small
    seen = _block("obj_2", [0.605, 0.01, 0.078], 0.041)  # on it, seen 1.6 cm high
    assert not is_on(seen, base)  # the strict predicate (the simulator's state)
    assert is_on(seen, base, CAMERA_SLACK)
    hovering = _block("obj_2", [0.6, 0.0, 0.105], 0.04)  # as high as on a second block
    assert not is_on(hovering, base, CAMERA_SLACK)
    beside = _block("obj_2", [0.64, 0.0, 0.062], 0.04)
    assert not is_on(beside, base, CAMERA_SLACK)


def test_the_oracle_takes_a_placed_level_as_placed_from_camera_poses():
    base = _block("obj_1", [0.6, 0.0, 0.024], 0.035)
    seen = _block("obj_2", [0.605, 0.01, 0.078], 0.041)
    obs = Observation(np.zeros(7), 0.08, np.array([0.4, 0.0, 0.3, 1.0, 0, 0, 0]), [base, seen])
    assert move_into(obs, "obj_2", "obj_1") is None  # not picked again
