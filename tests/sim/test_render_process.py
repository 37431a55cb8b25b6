"""The render process draws exactly what the world's own camera would, and never a frame of a
scene that has been replaced."""

from __future__ import annotations

import time

import numpy as np
import pytest

from embodied_mm.tasks.specs import ObjectSpec
from sim.render_process import RenderedFrame, RenderProcess

pytestmark = pytest.mark.sim

SCENE = [ObjectSpec("block", "red", (0.5, 0.1), yaw=0.3), ObjectSpec("bowl", "blue", (0.5, -0.15))]
OTHER = [ObjectSpec("block", "green", (0.4, -0.2))]


def _wait(renderer: RenderProcess, timeout_s: float = 60.0) -> RenderedFrame | None:
    deadline = time.monotonic() + timeout_s
    while renderer.busy and time.monotonic() < deadline:
        frame = renderer.result()
        if frame is not None:
            return frame
        time.sleep(0.005)
    return None


@pytest.fixture
def renderer(world):
    r = RenderProcess(world.camera.config)
    yield r
    r.close()


def test_frames_match_the_worlds_own_render_at_the_submitted_pose(world, renderer):
    world.reset(SCENE)
    renderer.load(SCENE)
    world.command_joints(np.array([0.3, 0.2, 0.0, -2.0, 0.0, 2.2, 0.8]), 0.04)
    world.step(120)  # arm and fingers away from home: the replica must follow the pose
    world.move_object("obj_1", (0.45, 0.05))
    assert renderer.submit(world.pose_vector(), tag=7.0)
    assert not renderer.submit(world.pose_vector(), tag=8.0)  # one frame in flight at a time
    frame = _wait(renderer)
    assert frame is not None and frame.tag == 7.0
    rgb, depth, seg = world.render()
    np.testing.assert_array_equal(frame.rgb, rgb)
    np.testing.assert_array_equal(frame.depth, depth)
    np.testing.assert_array_equal(frame.segmentation, seg)  # same body ids: perception=gt holds
    assert set(np.unique(seg)) >= {o.mask_id for o in world.object_states()}


def test_a_frame_of_a_replaced_scene_is_dropped(world, renderer):
    world.reset(SCENE)
    renderer.load(SCENE)
    assert renderer.submit(world.pose_vector(), tag=1.0)
    renderer.load(OTHER)  # e.g. the next episode was requested while the frame rendered
    assert _wait(renderer) is None and not renderer.busy
    world.reset(OTHER)
    assert renderer.submit(world.pose_vector(), tag=2.0)
    frame = _wait(renderer)
    assert frame is not None and frame.tag == 2.0
    np.testing.assert_array_equal(frame.segmentation, world.render()[2])
