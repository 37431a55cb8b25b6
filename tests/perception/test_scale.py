"""A real camera's resolution and lens: the learned detector works at the trained pixel scale
(`perception/scale.py`), and training takes a camera's own frames mixed with sim frames.

    python -m pytest -q -p no:cacheprovider tests/perception/test_scale.py
"""

from __future__ import annotations

import numpy as np
import pytest

from embodied_mm.perception.dataset import HELDOUT_SEED, render_frame, save_frame
from embodied_mm.perception.geometry import CameraModel, look_at
from embodied_mm.perception.scale import WORK_FOCAL_PX, WorkingFrame, working_scale


def _camera(width: int, height: int, fy: float, eye=(1.15, 0.0, 0.75),
            target=(0.5, 0.0, 0.0)) -> CameraModel:
    K = [[fy, 0, width / 2 - 0.5], [0, fy, height / 2 - 0.5], [0, 0, 1]]
    pose = look_at(eye, target, [0.0, 0.0, 1.0])
    return CameraModel(width, height, K, pose)


def _pixel(camera: CameraModel, point: np.ndarray) -> np.ndarray:
    to_camera = np.linalg.inv(camera.cam_to_world)
    x = to_camera[:3, :3] @ point + to_camera[:3, 3]
    return (camera.K @ x)[:2] / x[2]


def test_the_sim_camera_is_used_as_it_is_and_a_real_one_is_resampled_to_its_scale():
    assert working_scale(_camera(320, 240, WORK_FOCAL_PX)) == 1.0
    assert working_scale(_camera(320, 240, WORK_FOCAL_PX * 1.04)) == 1.0  # training's jitter
    assert working_scale(_camera(640, 480, 2 * WORK_FOCAL_PX)) == pytest.approx(0.5)
    # The sim's lens 0.64 m from the table instead of 0.99 m: objects 1.56x as large.
    near = _camera(320, 240, WORK_FOCAL_PX, eye=(0.95, 0.0, 0.45))
    assert working_scale(near) == pytest.approx(np.hypot(0.45, 0.45) / np.hypot(0.65, 0.75))
    # Looking across the table, not down at it: the focal length alone.
    level = _camera(640, 480, 2 * WORK_FOCAL_PX, eye=(1.2, 0.0, 0.1), target=(0.0, 0.0, 0.1))
    assert working_scale(level) == pytest.approx(0.5)
    d435 = _camera(640, 480, 615.0)  # a common RGB-D camera's colour stream
    rgb = np.zeros((480, 640, 3), np.uint8)
    depth = np.full((480, 640), 0.9, np.float32)
    depth[100:110, 200:230] = np.nan  # a hole stays a hole
    work = WorkingFrame.of(rgb, depth, d435)
    assert work.resized and work.depth.shape == (176, 240) and work.rgb.shape == (176, 240, 3)
    assert work.camera.K[1, 1] == pytest.approx(WORK_FOCAL_PX, rel=0.03)
    assert np.isnan(work.depth).any() and set(np.unique(work.depth[np.isfinite(work.depth)])) == {
        np.float32(0.9)}  # nearest: no depth value is invented at an edge
    # A point of the world lands on the same spot of the picture in both cameras.
    for point in ([0.5, 0.0, 0.02], [0.35, -0.2, 0.1], [0.7, 0.25, 0.0]):
        full, small = _pixel(d435, np.array(point)), _pixel(work.camera, np.array(point))
        np.testing.assert_allclose((small + 0.5) / [240, 176], (full + 0.5) / [640, 480],
                                   atol=1e-9)
    mask = np.zeros((480, 640), bool)
    mask[200:260, 300:340] = True
    back = work.full(work.work(mask))
    assert back.shape == mask.shape and (back & mask).sum() / (back | mask).sum() > 0.9


@pytest.mark.sim
@pytest.mark.parametrize("width, height, fov, eye", [(640, 480, 55.0, None),
                                                    (640, 480, 42.0, None),
                                                    (320, 240, 55.0, (0.95, 0.0, 0.45))])
def test_the_shipped_model_finds_objects_through_another_camera(width, height, fov, eye):
    """640×480 frames, with the sim's lens and with a narrower one (a common RGB-D camera's
    colour stream: 2.7× the trained focal length), and the sim camera closer to the table:
    found as through the sim camera, masks at the camera's resolution. Run at the camera's
    own pixel scale the model found a tenth of them at 42° (precision 0.06), and took pieces
    of objects for objects at 55° and close up (precision 0.41, 0.65)."""
    from embodied_mm.perception.dataset import camera_config
    from embodied_mm.perception.metrics import detector, score_frame
    from sim.world import TabletopWorld

    detect = detector("learned")
    tp = fp = fn = 0
    with TabletopWorld(camera=camera_config((width, height), fov, eye)) as world:
        for i in range(8):
            frame = render_frame(world, HELDOUT_SEED + i)
            found = detect(frame)
            assert all(f.mask.shape == (height, width) for f in found)
            tally = score_frame(found, frame)
            tp, fp, fn = tp + tally.tp, fp + tally.fp, fn + tally.fn
    assert tp / (tp + fp) >= 0.9 and tp / (tp + fn) >= 0.9, (tp, fp, fn)


@pytest.mark.sim
def test_training_takes_frames_of_two_cameras_together(tmp_path):
    """A user fine-tunes on their 640×480 camera's frames mixed with sim frames: each is
    resampled to the working scale, the smaller padded (no target there), and the run writes
    a checkpoint the detector loads."""
    import torch

    from embodied_mm.perception.learned import LearnedDetector
    from embodied_mm.perception.train_perception import TrainConfig, load_tensors, train
    from sim.camera import CameraConfig
    from sim.world import TabletopWorld

    for folder, config in (("sim", CameraConfig()),
                           ("mine", CameraConfig(width=640, height=480, fov_deg=42.0))):
        (tmp_path / folder).mkdir()
        with TabletopWorld(camera=config) as world:
            for i in range(2):
                save_frame(render_frame(world, i, vary=False), tmp_path / folder, i)
    x, kind, color, offsets = load_tensors([tmp_path / "sim", tmp_path / "mine"], echo=print)
    assert x.shape == (4, 5, 120, 160) and kind.shape == (4, 120, 160)
    mine = kind[2:]
    assert (mine[:, 88:] == 255).all() and (mine[:, :, 120:] == 255).all()  # padding: no target
    assert ((mine > 0) & (mine < 255)).any()  # its objects are there to learn
    assert not x[2:, 4, 88:].any()  # and no depth reading in the padding
    out = train(TrainConfig(data=[tmp_path / "sim", tmp_path / "mine"], out=tmp_path / "model",
                            epochs=1, batch=4, val_share=0.25), echo=lambda _: None)
    model = LearnedDetector.load(out)
    assert all(torch.isfinite(p).all() for p in model.model.parameters())
