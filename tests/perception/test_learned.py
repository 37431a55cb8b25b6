"""Learned perception: the dataset's ground truth, the shipped model on the case colour mode
loses (a block in the bowl of its colour), the metrics on a constructed case, naming, the CLI.

    python -m pytest -q -p no:cacheprovider tests/perception/test_learned.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embodied_mm.perception.dataset import (
    SCENE_KINDS,
    Frame,
    load_frame,
    min_visible,
    render_frame,
    save_frame,
)
from embodied_mm.perception.geometry import CameraModel, look_at
from embodied_mm.perception.metrics import Found, match, score_frame
from embodied_mm.vocabulary import COLORS, KINDS


@pytest.mark.sim
@pytest.mark.parametrize("kind", ["nested", "held", "crowded"])
def test_rendered_ground_truth_is_consistent(world, tmp_path, kind):
    """Instance masks, pixel counts, hidden flags and 3-D centres agree with each other and
    survive a save/load round trip; the clean depth puts the table at z = 0."""
    seed = SCENE_KINDS.index(kind) + 7 * 3
    frame = render_frame(world, seed, augment=False)
    assert {k: frame.meta[k] for k in ("scene", "seed")} == {"scene": kind, "seed": seed}
    q, width = world.joint_state()  # the arm as drawn, for the robot self-filter
    assert np.allclose(frame.meta["joints"], q, atol=1e-4)
    assert frame.meta["gripper_width"] == pytest.approx(width, abs=1e-4)
    save_frame(frame, tmp_path, 0)
    loaded = load_frame(tmp_path / "000000")
    assert np.array_equal(loaded.instances, frame.instances)
    assert np.array_equal(loaded.depth_mm, frame.depth_mm)
    assert np.allclose(loaded.camera.cam_to_world, frame.camera.cam_to_world, atol=1e-5)
    assert loaded.objects == json.loads(json.dumps(frame.objects))
    if kind == "crowded":
        assert len(frame.objects) >= 6
    points = frame.camera.back_project(frame.depth)
    table = (frame.instances == 0) & (np.abs(points[..., 2]) < 0.01)
    assert table.mean() > 0.3 and np.median(np.abs(points[table][:, 2])) < 0.001
    for k, obj in enumerate(frame.objects, start=1):
        assert obj["kind"] in KINDS and obj["color"] in COLORS
        mask = frame.instances == k
        assert obj["pixels"] == mask.sum()
        assert obj["hidden"] == (mask.sum() < min_visible(mask.shape))
        if obj["hidden"]:
            continue
        # The visible surface lies within the object's box (a held block's too).
        x, y, z, w = obj["orientation"]
        rotation = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                             [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                             [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
        local = (points[mask] - np.asarray(obj["position"])) @ rotation  # object frame
        half = np.asarray(obj["size"]) / 2 + 0.004
        inside = np.all(np.abs(local) <= half, axis=1)
        assert inside.mean() > 0.95, (k, obj)


@pytest.mark.sim
def test_augmented_frames_have_noise_holes_and_other_cameras(world):
    a, b = render_frame(world, 7), render_frame(world, 14)  # two `task` scenes
    assert (a.depth_mm == 0).any()  # holes
    assert not np.allclose(a.camera.cam_to_world, b.camera.cam_to_world)


def _camera() -> CameraModel:
    return CameraModel(320, 240, [[230.0, 0, 160], [0, 230.0, 119], [0, 0, 1]],
                       look_at((1.15, 0, 0.75), (0.5, 0, 0), (0, 0, 1)))


def _box(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros((240, 320), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_metrics_count_a_constructed_case():
    """Four objects (one hidden); detections: one exact with the wrong colour, one shifted to
    IoU 1/3 (a miss and a false positive), one on the hidden object (ignored), one on
    nothing (a false positive)."""
    instances = np.zeros((240, 320), np.uint8)
    boxes = [(10, 30, 10, 30), (50, 70, 50, 70), (100, 120, 100, 120), (200, 202, 200, 202)]
    for k, (y0, y1, x0, x1) in enumerate(boxes, start=1):
        instances[y0:y1, x0:x1] = k
    objects = [{"kind": "block", "color": "red", "position": [0.5, 0.0, 0.02], "pixels": 400},
               {"kind": "bowl", "color": "blue", "position": [0.4, 0.1, 0.02], "pixels": 400},
               {"kind": "block", "color": "green", "position": [0.6, 0.1, 0.02], "pixels": 400},
               {"kind": "block", "color": "cyan", "position": [0.6, 0.2, 0.02], "pixels": 4,
                "hidden": True}]
    frame = Frame(np.zeros((240, 320, 3), np.uint8), np.ones((240, 320), np.uint16), instances,
                  _camera(), objects)
    found = [Found("block", "pink", _box(10, 30, 10, 30), np.array([0.503, 0.004, 0.02])),
             Found("bowl", "blue", _box(50, 70, 60, 80), np.array([0.4, 0.1, 0.02])),
             Found("block", "cyan", _box(200, 202, 200, 202), np.array([0.6, 0.2, 0.02])),
             Found("block", "red", _box(150, 160, 150, 160), np.array([0.3, 0.0, 0.02]))]
    tally = score_frame(found, frame)
    assert (tally.tp, tally.fp, tally.fn) == (1, 2, 2)
    assert (tally.kind_ok, tally.color_ok) == (1, 0)
    assert tally.errors_mm == pytest.approx([5.0])
    summary = tally.summary()
    assert summary["precision"] == pytest.approx(1 / 3, abs=1e-4)
    assert summary["recall"] == pytest.approx(1 / 3, abs=1e-4)


def test_matching_is_one_to_one_by_best_iou():
    truth = np.stack([_box(0, 10, 0, 10), _box(0, 10, 8, 18)])
    found = np.stack([_box(0, 10, 7, 17), _box(0, 10, 0, 10)])
    assert sorted(match(found, truth)) == [(0, 1), (1, 0)]
    assert match(np.zeros((0, 240, 320), bool), truth) == []


@pytest.mark.parametrize("argv, message", [
    (["perception", "gen-data", "--frames", "0"], "--frames: must be positive"),
    (["perception", "train", "--data", "/no/such/folder"], "no perception frames"),
    (["perception", "eval", "--modes", "sonar"], "invalid choice"),
    (["perception", "eval", "--camera", "640"], "expected WIDTHxHEIGHT"),
    (["perception", "gen-data", "--eye", "1", "2"], "--eye: expected 3 arguments"),
])
def test_cli_names_bad_arguments(capsys, argv, message):
    from embodied_mm.cli import main

    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's own errors
        code = exit.code
    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.sim
def test_gen_data_command_writes_loadable_frames(tmp_path, capsys):
    from embodied_mm.cli import main

    assert main(["perception", "gen-data", "--frames", "2", "--out", str(tmp_path)]) == 0
    assert "gen-data: 2/2 frames" in capsys.readouterr().out
    index = json.loads((tmp_path / "index.json").read_text())
    assert (index["frames"], index["split"], index["first_seed"]) == (2, "train", 0)
    assert [load_frame(tmp_path / f"00000{i}").meta["seed"] for i in range(2)] == [0, 1]


@pytest.mark.sim
def test_gen_data_renders_through_your_camera(tmp_path):
    """Frames to fine-tune on for a camera of another size, lens and pose: rendered through
    it, with the training jitter around its pose."""
    from embodied_mm.cli import main

    assert main(["perception", "gen-data", "--frames", "2", "--out", str(tmp_path), "--camera",
                 "640x480", "--fov", "42", "--eye", "0.9", "0.4", "0.6", "--target", "0.45",
                 "0.05", "0"]) == 0
    for i in range(2):
        frame = load_frame(tmp_path / f"00000{i}")
        assert frame.rgb.shape == (480, 640, 3) and frame.instances.shape == (480, 640)
        assert np.abs(frame.camera.eye - [0.9, 0.4, 0.6]).max() <= 0.04 + 1e-6
        fy = frame.camera.K[1, 1]
        assert 240 / np.tan(np.radians(22)) <= fy <= 240 / np.tan(np.radians(20))


@pytest.mark.sim
def test_shipped_model_separates_blocks_in_the_bowl_of_their_colour(world):
    """A held-out scene (never trained on) with a purple block in the purple bowl and a red
    block in the red bowl, under randomised light and camera: colour mode does not report
    either pair as two objects; the shipped learned model finds all four, each within 1 cm."""
    from embodied_mm.perception.dataset import HELDOUT_SEED
    from embodied_mm.perception.detectors import detect_color
    from embodied_mm.perception.learned import detect_learned

    frame = render_frame(world, HELDOUT_SEED + 14)
    assert frame.meta["scene"] == "nested"
    nested = [(i, j) for i, bowl in enumerate(frame.objects) if bowl["kind"] == "bowl"
              for j, block in enumerate(frame.objects) if block["kind"] == "block"
              and block["color"] == bowl["color"]
              and np.hypot(*np.subtract(block["position"][:2], bowl["position"][:2])) < 0.06]
    assert {frame.objects[i]["color"] for i, _ in nested} == {"purple", "red"}
    colour = detect_color(frame.rgb, frame.depth, frame.camera)
    found = detect_learned(frame.rgb, frame.depth, frame.camera)
    for pair in nested:
        color = frame.objects[pair[0]]["color"]
        assert {o.kind for o in colour if o.color == color} != {"block", "bowl"}
        for index in pair:
            obj = frame.objects[index]
            assert any((o.kind, o.color) == (obj["kind"], color) and
                       np.linalg.norm(o.position - obj["position"]) < 0.01 for o in found), obj


def test_detections_keep_known_names_and_new_ones_take_the_lowest_free():
    """Same colour and kind, nearest first; the unseen blue bowl keeps its name for when it is
    seen again (a name never passes to another object: a skill running on `obj_4` must not
    find a green bowl under that name); new objects take the lowest names no known object has,
    in colour mode's (colour, kind) order, so both modes name a scene alike."""
    from embodied_mm.perception.learned import Detection, name_detections
    from embodied_mm.types import ObjectState

    def det(kind: str, color: str, x: float) -> Detection:
        return Detection(kind, color, np.zeros((2, 2), bool), 1.0, np.array([x, 0.0, 0.02]),
                         np.array([0, 0, 0, 1.0]), np.full(3, 0.04))

    known = [ObjectState("obj_1", "block", "red", np.array([0.30, 0, 0.02]), np.zeros(4),
                         np.zeros(3)),
             ObjectState("obj_2", "block", "red", np.array([0.50, 0, 0.02]), np.zeros(4),
                         np.zeros(3)),
             ObjectState("obj_4", "bowl", "blue", np.array([0.60, 0, 0.02]), np.zeros(4),
                         np.zeros(3))]
    found = [det("block", "red", 0.49), det("block", "red", 0.31), det("bowl", "green", 0.4),
             det("block", "red", 0.7)]
    named = {o.name: (o.color, o.kind, round(float(o.position[0]), 2))
             for o in name_detections(found, known)}
    assert named == {"obj_1": ("red", "block", 0.31), "obj_2": ("red", "block", 0.49),
                     "obj_3": ("red", "block", 0.7), "obj_5": ("green", "bowl", 0.4)}
    # The red block at 0.31 seen as orange (tinted by a block on it): still obj_1, and red,
    # while an orange block 3 cm away from every known one is new.
    found = [det("block", "orange", 0.31), det("block", "red", 0.49), det("block", "orange", 0.53)]
    named = {o.name: (o.color, round(float(o.position[0]), 2))
             for o in name_detections(found, known)}
    assert named == {"obj_1": ("red", 0.31), "obj_2": ("red", 0.49), "obj_3": ("orange", 0.53)}



def test_a_name_first_seen_late_does_not_take_a_scene_objects_detection():
    """A bowl half hidden by the arm was seen as two (`obj_7` is the spurious half, known
    since); seen whole again, nearer `obj_7`'s last pose than its own, it is still `obj_2`, so
    a goal object does not vanish under a new name. Without `late`, nearest wins."""
    from embodied_mm.perception.learned import Detection, name_detections
    from embodied_mm.types import ObjectState

    def bowl(name: str, x: float, y: float) -> ObjectState:
        return ObjectState(name, "bowl", "cyan", np.array([x, y, 0.02]), np.zeros(4), np.zeros(3))

    known = [bowl("obj_2", 0.45, 0.12), bowl("obj_7", 0.42, 0.22)]
    seen = [Detection("bowl", "cyan", np.zeros((2, 2), bool), 1.0, np.array([0.39, 0.17, 0.02]),
                      np.array([0, 0, 0, 1.0]), np.full(3, 0.12))]
    assert [o.name for o in name_detections(seen, known)] == ["obj_7"]
    assert [o.name for o in name_detections(seen, known, late={"obj_7"})] == ["obj_2"]

@pytest.mark.sim
def test_one_object_found_twice_is_merged_and_a_stack_is_not(world):
    """Two detections of one kind centred within a fraction of a block's width are one object
    (votes split over it): merged and posed from both masks. Two blocks stacked one edge apart
    stay two."""
    from dataclasses import replace

    from embodied_mm.perception.dataset import HELDOUT_SEED
    from embodied_mm.perception.geometry import surface_normals
    from embodied_mm.perception.learned import LearnedDetector

    detector = LearnedDetector.load()
    frame = render_frame(world, HELDOUT_SEED, augment=False, vary=False)
    found = detector.detect(frame.rgb, frame.depth, frame.camera)
    block = next(d for d in found if d.kind == "block")
    points = frame.camera.back_project(frame.depth)
    normals = surface_normals(points, frame.instances.astype(int) - 1)
    rows = np.nonzero(block.mask.any(axis=1))[0]
    upper = block.mask & (np.arange(block.mask.shape[0]) < rows.mean())[:, None]
    halves = [replace(block, mask=upper, position=block.position + [0, 0, 0.004]),
              replace(block, mask=block.mask & ~upper)]
    (merged,) = detector._merge_duplicates(halves, points, normals, frame.camera)
    assert (merged.mask == block.mask).all()
    np.testing.assert_allclose(merged.position, block.position, atol=1e-3)  # not the half's
    above = replace(block, position=block.position + [0, 0, float(block.size[2])])
    assert len(detector._merge_duplicates([block, above], points, normals,
                                          frame.camera)) == 2


@pytest.mark.sim
def test_a_same_coloured_tower_comes_out_as_its_blocks(world):
    """A held-out tower of three green blocks under randomised light and camera: the model
    alone finds two blocks in it; cut again by height as one column, all three are found,
    each within 1.5 cm (a placed block is judged "on" the one below from these poses)."""
    from embodied_mm.perception.dataset import HELDOUT_SEED
    from embodied_mm.perception.learned import detect_learned

    frame = render_frame(world, HELDOUT_SEED + 37)
    tower = [o for o in frame.objects if o["color"] == "green"]
    assert frame.meta["scene"] == "stack" and len(tower) == 3
    found = [o for o in detect_learned(frame.rgb, frame.depth, frame.camera)
             if (o.kind, o.color) == ("block", "green")]
    assert len(found) == 3
    for block in tower:
        assert min(np.linalg.norm(o.position - block["position"]) for o in found) < 0.015


def test_a_tower_under_the_hand_is_posed_as_a_tower():
    """A frame saved by the perception node in a graph run (`frames_dir`): a green block just
    placed on yellow on brown, the open hand above it hiding the top face. The yellow middle
    block shows a thin band; posed from that band with the table behind the tower's outline, it
    came out 3 cm beside the tower, so `place` judged the tower broken and took it apart. All
    three are one column, in stacking order."""
    from embodied_mm.perception.dataset import load_frame
    from embodied_mm.perception.learned import detect_learned

    frame = load_frame(Path(__file__).parent / "frames" / "tower_under_hand" / "000000")
    found = {o.color: o for o in detect_learned(frame.rgb, frame.depth, frame.camera)
             if o.kind == "block"}
    tower = [found[c] for c in ("brown", "yellow", "green")]
    axis = np.median([o.position[:2] for o in tower], axis=0)
    for block in tower:
        assert np.linalg.norm(block.position[:2] - axis) < 0.015, (block.color, block.position)
    assert tower[0].position[2] < tower[1].position[2] < tower[2].position[2]


@pytest.mark.parametrize("fixture, bottom_up", [
    ("tower_of_four_colours", ["white", "yellow", "orange", "blue"]),
    ("tower_white_in_middle", ["blue", "purple", "white", "brown"]),
    ("tower_middle_block", ["purple", "blue", "cyan"]),
])
def test_a_tower_of_several_colours_is_cut_into_its_blocks(fixture, bottom_up):
    """Frames saved by the perception node in graph runs (`frames_dir`, with the arm's joint
    state), the hand above each tower. In the first the model merged the shaded white block
    with the yellow one, the height cut alone made three blocks of the four, and the oracle,
    seeing no white block under the yellow, took the tower apart; it is cut where the pixels'
    colour changes. In the second the colours' bands once made five blocks, the white one cut
    in two (a band count whose neighbouring bands share a colour is no choice). In the third,
    the moment a cyan block was put on blue on purple, the model's four blocks gave four equal
    bands and the blue one was cut in two; the oracle judged the tower broken. Robot pixels
    kept out, each tower comes out block by block in stacking order."""
    from embodied_mm.perception.dataset import load_frame
    from embodied_mm.perception.learned import detect_learned
    from embodied_mm.perception.self_filter import SelfFilter

    frame = load_frame(Path(__file__).parent / "frames" / fixture / "000000")
    robot = SelfFilter().mask(frame.camera, frame.depth, frame.meta["joints"],
                              frame.meta["gripper_width"])
    found = detect_learned(frame.rgb, frame.depth, frame.camera, robot=robot)
    top = max((o for o in found if o.kind == "block"), key=lambda o: o.position[2])
    tower = sorted((o for o in found if o.kind == "block" and
                    np.linalg.norm(o.position[:2] - top.position[:2]) < 0.03),
                   key=lambda o: o.position[2])
    assert [o.color for o in tower] == bottom_up
    axis = np.median([o.position[:2] for o in tower], axis=0)
    for block in tower:
        assert np.linalg.norm(block.position[:2] - axis) < 0.015, (block.color, block.position)
