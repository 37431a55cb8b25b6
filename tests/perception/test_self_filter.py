"""Robot self-filter: the robot rendered from its URDF at the sim's joint positions, through a
jittered camera, marks the arm's own pixels of a frame and leaves the objects alone, a block
held in the fingers included; the detector then keeps those pixels out of object masks.

    python -m pytest -q -p no:cacheprovider tests/perception/test_self_filter.py
"""

from __future__ import annotations

import numpy as np
import pytest

from embodied_mm.perception.geometry import CameraModel


@pytest.fixture(scope="module")
def robot_filter():
    from embodied_mm.perception.self_filter import SelfFilter

    robot_filter = SelfFilter()
    yield robot_filter
    robot_filter.renderer.close()


def _varied_frame(world, kind: str, seed: int):
    """A scene of `kind` rendered through a randomised camera: rgb, depth, seg, camera."""
    from embodied_mm.perception.scenes import pose_scene
    from sim.randomize import RenderVariation, render_varied

    rng = np.random.default_rng(seed)
    pose_scene(world, kind, rng)
    variation = RenderVariation.sample(rng, world.camera.config)
    rgb, depth, seg = render_varied(world, variation)
    c = variation.camera
    camera = CameraModel.from_camera_info(c.intrinsics, c.width, c.height, c.eye, c.target, c.up)
    return rgb, depth, seg, camera


@pytest.mark.sim
@pytest.mark.parametrize("seed", range(4))
def test_the_filter_marks_the_robot_the_camera_sees_and_no_object(world, robot_filter, seed):
    """The arm low over objects, a camera pose never the sim's own: the marked pixels are the
    robot's as the simulator draws them (IoU >= 0.97), and next to no object pixel is marked."""
    _, depth, seg, camera = _varied_frame(world, "arm", seed)
    marked = robot_filter.mask(camera, depth, *world.joint_state())
    robot = seg == world.robot
    assert robot.sum() > 500
    assert (marked & robot).sum() / (marked | robot).sum() >= 0.97
    objects = (seg >= 0) & ~robot & (seg != world.table)
    assert (marked & objects).sum() <= 0.01 * objects.sum()


@pytest.mark.sim
@pytest.mark.parametrize("seed", [4, 11, 18])
def test_a_block_held_in_the_fingers_is_not_the_robot(world, robot_filter, seed):
    """A block in the closed gripper touches both fingers: it is nearer the camera than the
    finger behind it, so its pixels stay the block's."""
    _, depth, seg, camera = _varied_frame(world, "held", seed)
    q, width = world.joint_state()
    block = min(world.object_states(), key=lambda o: abs(o.size[0] - width))
    pixels = seg == block.mask_id
    assert pixels.sum() >= 20
    assert (robot_filter.mask(camera, depth, q, width) & pixels).sum() <= 0.05 * pixels.sum()


def test_a_missing_urdf_or_wrong_joint_count_is_named(robot_filter):
    from embodied_mm.perception.geometry import look_at, pybullet_intrinsics
    from embodied_mm.perception.self_filter import SelfFilter

    with pytest.raises(FileNotFoundError, match="no_robot.urdf"):
        SelfFilter("no_robot.urdf")
    camera = CameraModel(320, 240, pybullet_intrinsics(320, 240, 55.0),
                         look_at((1.15, 0, 0.75), (0.5, 0, 0), (0, 0, 1)))
    with pytest.raises(ValueError, match="7 revolute joints, got 6"):
        robot_filter.mask(camera, np.ones((240, 320), np.float32), np.zeros(6), 0.04)


@pytest.mark.sim
@pytest.mark.parametrize("side", [-1, 1])
def test_a_white_block_beside_the_hand_is_posed_from_its_own_pixels(world, robot_filter, side):
    """A white block with the white hand just beside it: the model's mask of the block spills
    onto the table between block and hand (a 4 cm error before table-level pixels were left
    out of a block's pose); with the robot's pixels kept out as well the block is posed within
    1 cm and no piece of the arm is reported."""
    from embodied_mm.perception.geometry import from_camera_info, pybullet_intrinsics
    from embodied_mm.perception.learned import detect_learned
    from embodied_mm.robots.kinematics import HOME, PandaKinematics
    from embodied_mm.tasks.specs import ObjectSpec

    world.reset([ObjectSpec("block", "white", (0.5, 0.1), size=0.04),
                 ObjectSpec("bowl", "red", (0.4, -0.25))])
    q = PandaKinematics().inverse(np.array([0.5, 0.1 + side * 0.06, 0.05]), yaw=0.0, seed=HOME)
    world.reset_robot(q, gripper_width=0.02)
    rgb, depth, _ = world.render()
    c = world.camera.config
    camera = from_camera_info(pybullet_intrinsics(c.width, c.height, c.fov_deg), c.width,
                              c.height, c.eye, c.target, c.up)
    robot = robot_filter.mask(camera, depth, *world.joint_state())
    found = detect_learned(rgb, depth, camera, robot=robot)
    truth = world.object_states()[0].position
    assert sorted((o.color, o.kind) for o in found) == [("red", "bowl"), ("white", "block")]
    block = next(o for o in found if o.kind == "block")
    assert np.linalg.norm(block.position - truth) < 0.01

