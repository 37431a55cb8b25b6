"""Observation → numbers for the encoders (no torch.nn here): object states, masks, image, robot.

Every quantity is normalised to roughly [-1, 1] with fixed constants of the table and the
Panda, so the encoders see the same scale in sim and on hardware. `collate` pads a batch of
scenes with different object counts and says which rows are real.

Example:
    >>> import numpy as np
    >>> from embodied_mm.types import ObjectState, Observation
    >>> obj = ObjectState("obj_1", "block", "red", np.array([0.5, 0.0, 0.02]),
    ...                   np.array([0, 0, 0, 1.0]), np.full(3, 0.04))
    >>> obs = Observation(np.zeros(7), 0.08, np.zeros(7), [obj])
    >>> extract(obs, images=False).objects.shape
    (1, 11)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from embodied_mm.scene import BOWL_RIM_MARGIN, STACK_TOLERANCE, TABLE_TOLERANCE
from embodied_mm.table import TABLE
from embodied_mm.types import ObjectState, Observation
from embodied_mm.vocabulary import COLORS, KINDS

IMAGE_SIZE = 96  # px, side of the square image the CNN sees (cv2.INTER_AREA downscale)
POSITION_SCALE = 0.25  # m: table-centred positions / this ≈ [-1, 1]
SIZE_SCALE = 0.1  # m: object extents / this ≈ [0, 1]
MAX_GRIPPER_WIDTH = 0.08  # m, the Panda's fully open gripper

# Per-object state row: position xyz, size xyz, colour rgb, kind one-hot.
OBJECT_DIM = 3 + 3 + 3 + len(KINDS)
RGB_COLUMNS, KIND_COLUMNS = slice(6, 9), slice(9, 9 + len(KINDS))
# Robot row: 7 joint angles (rad), gripper opening (0 closed … 1 open), ee xyz + quaternion xyzw.
ROBOT_DIM = 7 + 1 + 7
# Image-plane summary of an object's mask: centroid x, y in [-1, 1] and area fraction.
CENTROID_DIM = 3


@dataclass
class SceneFeatures:
    """One observation as arrays; N objects in prompt order (`obj_1` first).

    Attributes:
        objects: (N, OBJECT_DIM) state rows.
        masks: (N, S, S) float32 mask coverage in [0, 1] at image resolution S (zeros when the
            object has no mask: no segmentation, or occluded).
        centroids: (N, CENTROID_DIM) mask centroid and area (zeros for an empty mask).
        image: (3, S, S) float32 RGB in [0, 1], or None when images were not asked for.
        robot: (ROBOT_DIM,) robot row.
        names: the objects' names as the plan refers to them; empty means `obj_1 … obj_N`
            (training samples). An observation after a fault injection or from a perception
            that lost an object may skip numbers: `obj_1, obj_3`.
    """

    objects: np.ndarray
    masks: np.ndarray
    centroids: np.ndarray
    image: np.ndarray | None
    robot: np.ndarray
    names: tuple[str, ...] = ()

    @property
    def n_objects(self) -> int:
        return len(self.objects)

    @property
    def object_names(self) -> tuple[str, ...]:
        """`names`, or `obj_1 … obj_N` when none were given."""
        if self.names:
            return self.names
        return tuple(f"obj_{k}" for k in range(1, self.n_objects + 1))


def object_row(obj: ObjectState) -> np.ndarray:
    """(OBJECT_DIM,) normalised state of one object; a colour word outside `COLORS` (a
    perception that cannot name it) gives rgb zeros, an unknown kind a zero one-hot."""
    position = np.asarray(obj.position, np.float32).copy()
    position[:2] -= TABLE.center
    kind = np.array([obj.kind == k for k in KINDS], np.float32)
    rgb = np.asarray(COLORS.get(obj.color, (0.0, 0.0, 0.0)), np.float32)
    size = np.asarray(obj.size, np.float32) / SIZE_SCALE
    return np.concatenate([position / POSITION_SCALE, size, rgb, kind]).astype(np.float32)


def robot_row(obs: Observation) -> np.ndarray:
    """(ROBOT_DIM,) joints (rad), gripper opening fraction, end-effector pose."""
    gripper = np.float32(obs.gripper_width / MAX_GRIPPER_WIDTH)
    return np.concatenate([np.asarray(obs.joint_positions, np.float32), [gripper],
                           np.asarray(obs.ee_pose, np.float32)]).astype(np.float32)


def resize_image(rgb: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """(H, W, 3) uint8 → (3, size, size) float32 in [0, 1] (area interpolation, no crop)."""
    small = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small.transpose(2, 0, 1), np.float32) / 255.0


def object_masks(obs: Observation, size: int = IMAGE_SIZE) -> np.ndarray:
    """(N, size, size) float32 coverage of each object's segmentation mask, area-resized."""
    masks = np.zeros((len(obs.objects), size, size), np.float32)
    if obs.segmentation is None:
        return masks
    for i, obj in enumerate(obs.objects):
        if obj.mask_id is not None:
            full = (obs.segmentation == obj.mask_id).astype(np.float32)
            masks[i] = cv2.resize(full, (size, size), interpolation=cv2.INTER_AREA)
    return masks


def mask_centroids(masks: np.ndarray) -> np.ndarray:
    """(N, 3) centroid x, y in [-1, 1] (image frame, x right, y down) and area fraction."""
    n, h, w = masks.shape
    area = masks.sum(axis=(1, 2))
    ys, xs = np.linspace(-1, 1, h, dtype=np.float32), np.linspace(-1, 1, w, dtype=np.float32)
    safe = np.maximum(area, 1e-6)
    cx = (masks.sum(axis=1) * xs).sum(axis=1) / safe
    cy = (masks.sum(axis=2) * ys).sum(axis=1) / safe
    return np.stack([cx, cy, area / (h * w)], axis=1).astype(np.float32)


def extract(obs: Observation, images: bool = True, image_size: int = IMAGE_SIZE) -> SceneFeatures:
    """Features of one observation.

    Args:
        obs: the observation; `rgb` (and `segmentation` for object masks) when `images`.
        images: compute the image and the masks (the `image` and `objects` inputs need them).
        image_size: side of the square image and masks.

    Raises:
        ValueError: `images` is asked for but the observation has no `rgb`.
    """
    n = len(obs.objects)
    objects = (np.stack([object_row(o) for o in obs.objects]) if n else
               np.zeros((0, OBJECT_DIM), np.float32))
    if images:
        if obs.rgb is None:
            raise ValueError("this model reads camera images but the observation has no rgb; "
                             "capture it with get_observation(images=True)")
        image = resize_image(obs.rgb, image_size)
        masks = object_masks(obs, image_size)
    else:
        image, masks = None, np.zeros((n, image_size, image_size), np.float32)
    return SceneFeatures(objects, masks, mask_centroids(masks), image, robot_row(obs),
                         tuple(o.name for o in obs.objects))


ATTRIBUTES = {"color": tuple(COLORS), "kind": KINDS}  # word-anchored object attributes
# Word-anchored position: the table's usable area cut into POSITION_BINS rows (x, from the
# robot outwards) and columns (y, from the left edge rightwards), each bin named by a digit,
# so "leftmost" is the smallest column and "farthest" the largest row. A bin is 4.4 cm × 6.6 cm.
POSITION_BINS = 10
POSITION_ATTRIBUTES = {"row": tuple(str(d) for d in range(POSITION_BINS)),
                       "column": tuple(str(d) for d in range(POSITION_BINS))}
UNLABELLED = -100  # class index of padding rows and unknown attributes (cross_entropy's ignore)


def table_xy(objects: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) of each state row's position in the robot's base frame, m (rows hold it
    table-centred and scaled)."""
    return (objects[..., 0] * POSITION_SCALE + float(TABLE.center[0]),
            objects[..., 1] * POSITION_SCALE + float(TABLE.center[1]))


def position_bins(objects: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(row, column) bin index (long, 0 … POSITION_BINS-1) of each state row's position."""
    x, y = table_xy(objects)
    row = (x - TABLE.x_min) / (TABLE.x_max - TABLE.x_min) * POSITION_BINS
    column = (TABLE.y_max - y) / (TABLE.y_max - TABLE.y_min) * POSITION_BINS
    return (row.floor().long().clamp(0, POSITION_BINS - 1),
            column.floor().long().clamp(0, POSITION_BINS - 1))


def attribute_labels(objects: torch.Tensor, object_mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Class index of each object's colour, kind (`ATTRIBUTES` order), row and column
    (`POSITION_ATTRIBUTES`), read off its state rows: (B, N) long per attribute,
    `UNLABELLED` for padding and unknown words."""
    palette = torch.tensor(list(COLORS.values()), dtype=objects.dtype, device=objects.device)
    distance, color = torch.cdist(objects[..., RGB_COLUMNS], palette[None]).min(-1)
    kind_hot = objects[..., KIND_COLUMNS]
    kind = kind_hot.argmax(-1)
    row, column = position_bins(objects)
    color[(distance > 1e-3) | ~object_mask] = UNLABELLED
    kind[(kind_hot.sum(-1) < 0.5) | ~object_mask] = UNLABELLED
    row[~object_mask] = UNLABELLED
    column[~object_mask] = UNLABELLED
    return {"color": color, "kind": kind, "row": row, "column": column}


# Word-anchored relation among the objects of the same kind: an object's relation token is the
# mean of the LLM's embeddings of the words that hold for it (the leftmost block of a scene is
# ` leftmost`; the only block is all four), or of ` middle` when none does. Computed from the
# state rows of the whole scene, so a per-object encoder can say what only the set knows.
RELATION_WORDS = ("leftmost", "rightmost", "nearest", "farthest", "middle")


def relation_weights(objects: torch.Tensor, object_mask: torch.Tensor) -> torch.Tensor:
    """(B, N, len(RELATION_WORDS)) mixture weights over `RELATION_WORDS` for each object.

    Leftmost is the largest y (the robot's left), nearest the smallest x (closest to the
    robot's base), among the real objects of the same kind; rows of padding are zero.

    Args:
        objects: (B, N, OBJECT_DIM) state rows; object_mask: (B, N) real rows.
    """
    if objects.shape[1] == 0:  # a scene with no objects left (e.g. all removed)
        return objects.new_zeros(*objects.shape[:2], len(RELATION_WORDS))
    x, y = objects[..., 0], objects[..., 1]
    kind = objects[..., KIND_COLUMNS].argmax(-1)  # (B, N)
    same = (kind[:, :, None] == kind[:, None, :]) & object_mask[:, None, :]  # (B, N, N) peers
    holds = []
    for value, sign in ((y, 1), (y, -1), (x, -1), (x, 1)):  # leftmost, rightmost, nearest, farthest
        score = (sign * value)[:, None, :].expand_as(same).masked_fill(~same, float("-inf"))
        holds.append((sign * value) >= score.max(-1).values)
    holds = torch.stack(holds, -1).to(objects.dtype)  # (B, N, 4)
    none = (holds.sum(-1, keepdim=True) == 0).to(objects.dtype)
    weights = torch.cat([holds, none], -1)
    weights = weights / weights.sum(-1, keepdim=True)
    return weights * object_mask[..., None].to(objects.dtype)


# Word-anchored support: what an object rests on, the LLM's embedding of ` bowl` (inside a
# bowl), ` block` (on top of a block), ` table` (on the table) or ` air` (none: held, falling).
# Computed from the state rows of the whole scene with the predicates of `embodied_mm.scene`
# (`is_on`, `on_table`), so "a red block is still on the table" is a lookup, not geometry.
SUPPORT_WORDS = ("table", "bowl", "block", "air")


def _resting(objects: torch.Tensor, object_mask: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What each object rests on: (B, N, N) bool [i, j] object i is inside bowl j, (B, N, N)
    object i is on top of block j, and (B, N) object i is on the table."""
    position = objects[..., :3] * POSITION_SCALE  # xy table-centred, z above the table (m)
    size = objects[..., 3:6] * SIZE_SCALE
    kind = objects[..., KIND_COLUMNS].argmax(-1)  # (B, N)
    offset = torch.cdist(position[..., :2], position[..., :2])  # (B, N, N): [i, j] i above j
    top = (position[..., 2] + size[..., 2] / 2)[:, None, :]  # (B, 1, N) top of each support
    z, width, height = (position[..., 2:3], size[..., 0:1], size[..., 2:3])  # (B, N, 1)
    others = object_mask[:, None, :] & ~torch.eye(objects.shape[1], dtype=torch.bool,
                                                  device=objects.device)
    in_bowl = ((kind == KINDS.index("bowl"))[:, None, :] & others
               & (offset < size[..., 0][:, None, :] / 2 - BOWL_RIM_MARGIN - width / 4)
               & (z < top + height))
    on_block = ((kind == KINDS.index("block"))[:, None, :] & others
                & (offset < size[..., 0][:, None, :] / 2)
                & ((z - (top + height / 2)).abs() < STACK_TOLERANCE))
    on_table = (position[..., 2] - size[..., 2] / 2).abs() < TABLE_TOLERANCE
    return in_bowl, on_block, on_table


def support_weights(objects: torch.Tensor, object_mask: torch.Tensor) -> torch.Tensor:
    """(B, N, len(SUPPORT_WORDS)) one-hot: what each object rests on; rows of padding are zero.

    A bowl it sits in wins over a block under it, which wins over the table.

    Args:
        objects: (B, N, OBJECT_DIM) state rows; object_mask: (B, N) real rows.
    """
    in_bowl, on_block, on_table = _resting(objects, object_mask)
    support = torch.full(object_mask.shape, SUPPORT_WORDS.index("air"), dtype=torch.long,
                         device=objects.device)
    support[on_table] = SUPPORT_WORDS.index("table")
    support[on_block.any(-1)] = SUPPORT_WORDS.index("block")
    support[in_bowl.any(-1)] = SUPPORT_WORDS.index("bowl")
    weights = F.one_hot(support, len(SUPPORT_WORDS)).to(objects.dtype)
    return weights * object_mask[..., None].to(objects.dtype)


def _colour_partners(objects: torch.Tensor, object_mask: torch.Tensor) -> torch.Tensor:
    """(B, N, N) bool [i, j]: object j is of the other kind than object i and of its (known)
    colour."""
    color = attribute_labels(objects, object_mask)["color"]  # (B, N), UNLABELLED if unknown
    kind = objects[..., KIND_COLUMNS].argmax(-1)
    return ((color[:, :, None] == color[:, None, :]) & (color != UNLABELLED)[:, :, None]
            & (kind[:, :, None] != kind[:, None, :]) & object_mask[:, None, :])


# Word-anchored pairing, what `sort_by_color` asks of each object: ` home` when it is with an
# object of the other kind and its colour (a block inside the bowl of its colour, or that bowl),
# ` away` when such a partner exists elsewhere, ` alone` when none does. "Is every block
# sorted?" is then "is no object ` away`?", one word to look for instead of reading support,
# partner and kind of each object together (docs/palme.md, v30).
PAIRING_WORDS = ("home", "away", "alone")


def pairing_weights(objects: torch.Tensor, object_mask: torch.Tensor) -> torch.Tensor:
    """(B, N, len(PAIRING_WORDS)) one-hot: is each object with a partner of its colour of the
    other kind, is such a partner elsewhere, or has it none; rows of padding are zero.

    Args:
        objects: (B, N, OBJECT_DIM) state rows; object_mask: (B, N) real rows.
    """
    partner = _colour_partners(objects, object_mask)
    in_bowl = _resting(objects, object_mask)[0]  # [i, j]: i inside bowl j
    together = partner & (in_bowl | in_bowl.transpose(1, 2))
    pairing = torch.full(object_mask.shape, PAIRING_WORDS.index("alone"), dtype=torch.long,
                         device=objects.device)
    pairing[partner.any(-1)] = PAIRING_WORDS.index("away")
    pairing[together.any(-1)] = PAIRING_WORDS.index("home")
    weights = F.one_hot(pairing, len(PAIRING_WORDS)).to(objects.dtype)
    return weights * object_mask[..., None].to(objects.dtype)


# Word-anchored match with the gripper's object: ` same` when an object has the colour of the
# object the gripper holds (and is not it), else ` other`, so "the bowl of the held block's
# colour" is a lookup of one word instead of a comparison of two objects' colour tokens.
HELD_COLOR_WORDS = ("same", "other")


def held_color_weights(objects: torch.Tensor, object_mask: torch.Tensor,
                       robot: torch.Tensor) -> torch.Tensor:
    """(B, N, len(HELD_COLOR_WORDS)) one-hot: has each object the colour of the held object
    (`held_objects`); everything is ` other` when nothing is held; rows of padding are zero.

    Args:
        objects: (B, N, OBJECT_DIM) state rows; object_mask: (B, N) real rows;
        robot: (B, ROBOT_DIM) robot rows.
    """
    color = attribute_labels(objects, object_mask)["color"]  # (B, N), UNLABELLED if unknown
    same = torch.zeros_like(object_mask)
    for b, held in enumerate(held_objects(objects, object_mask, robot)):
        if held is not None and color[b, held] != UNLABELLED:
            same[b] = (color[b] == color[b, held]) & object_mask[b]
            same[b, held] = False
    weights = F.one_hot((~same).long(), len(HELD_COLOR_WORDS)).to(objects.dtype)
    return weights * object_mask[..., None].to(objects.dtype)


# Word-anchored zone: the table's usable area in thirds along x (front / - / back) and y
# (left / - / right), the nine cells `TABLE.zone_of` names ("front_left" … "center"), each the
# LLM's words for it (` front left`). Off the usable area, the nearest cell. A general scene
# fact (where an object is, in the words people use), so "which zone is it in?" and "the
# block on the left" are a lookup, not arithmetic on row and column digits.
ZONE_WORDS = ("front left", "front", "front right", "left", "center", "right",
              "back left", "back", "back right")


def zone_weights(objects: torch.Tensor, object_mask: torch.Tensor) -> torch.Tensor:
    """(B, N, len(ZONE_WORDS)) one-hot: the table zone each object's centre lies in; rows of
    padding are zero.

    Args:
        objects: (B, N, OBJECT_DIM) state rows; object_mask: (B, N) real rows.
    """
    x, y = table_xy(objects)
    third_x, third_y = (TABLE.x_max - TABLE.x_min) / 3, (TABLE.y_max - TABLE.y_min) / 3
    row = torch.ones_like(x, dtype=torch.long)  # 0 front, 1 middle, 2 back
    row[x < TABLE.x_min + third_x] = 0
    row[x > TABLE.x_max - third_x] = 2
    column = torch.ones_like(y, dtype=torch.long)  # 0 left, 1 centre, 2 right
    column[y > TABLE.y_max - third_y] = 0
    column[y < TABLE.y_min + third_y] = 2
    weights = F.one_hot(row * 3 + column, len(ZONE_WORDS)).to(objects.dtype)
    return weights * object_mask[..., None].to(objects.dtype)


# Word-anchored order among all the objects of the scene: ` first` for the leftmost object
# (`across`) and for the one nearest the robot (`depth`), ` second` for the next, … (ties share
# a word; from the tenth on, ` tenth`). "Is A left of B?" is then a comparison of two ordinals,
# which holds for any two objects apart by any distance, where row and column digits tie
# inside a 4.4 cm × 6.6 cm bin.
ORDER_WORDS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
               "ninth", "tenth")


def order_weights(objects: torch.Tensor, object_mask: torch.Tensor, axis: str) -> torch.Tensor:
    """(B, N, len(ORDER_WORDS)) one-hot: each object's place among the scene's real objects
    from the left (`axis="across"`, largest y first) or from the robot (`"depth"`, smallest x
    first); rows of padding are zero.

    Args:
        objects: (B, N, OBJECT_DIM) state rows; object_mask: (B, N) real rows;
        axis: `across` or `depth`.
    """
    if axis not in ("across", "depth"):
        raise ValueError(f"axis must be across or depth, got {axis!r}")
    key = objects[..., 1] if axis == "across" else -objects[..., 0]  # larger = earlier
    ahead = (key[:, None, :] > key[:, :, None]) & object_mask[:, None, :]  # [i, j]: j before i
    place = ahead.sum(-1).clamp(max=len(ORDER_WORDS) - 1)
    weights = F.one_hot(place, len(ORDER_WORDS)).to(objects.dtype)
    return weights * object_mask[..., None].to(objects.dtype)


# The computed words an object's `state` tokens may end in, name → its words in class order
# (`PalmEConfig.computed_words` chooses; `encoders.COMPUTED_WORDS` computes the weights).
COMPUTED_WORD_CLASSES = {"relation": RELATION_WORDS, "support": SUPPORT_WORDS,
                         "held_color": HELD_COLOR_WORDS, "pairing": PAIRING_WORDS,
                         "zone": ZONE_WORDS, "across": ORDER_WORDS, "depth": ORDER_WORDS}

# An object is in the gripper when its centre is this close to the end effector and the gripper
# is not fully open: a grasped block sits ~5 mm from it, anything else ≥ 10 cm away.
HOLD_RADIUS = 0.04  # m
OPEN_FRACTION_EMPTY = 0.95  # gripper opening fraction (robot row) above which nothing is held


def held_objects(objects: torch.Tensor, object_mask: torch.Tensor,
                 robot: torch.Tensor) -> list[int | None]:
    """Per scene, the index of the object in the gripper, or None.

    Args:
        objects: (B, N, OBJECT_DIM) state rows; object_mask: (B, N) real rows;
        robot: (B, ROBOT_DIM) robot rows (end-effector position at 8:11, metres).
    """
    position = objects[..., :3] * POSITION_SCALE
    position[..., :2] += torch.as_tensor(TABLE.center, dtype=objects.dtype, device=objects.device)
    distance = (position - robot[:, None, 8:11]).norm(dim=-1)
    distance = distance.masked_fill(~object_mask, float("inf"))
    nearest, index = distance.min(dim=-1) if distance.shape[1] else (
        torch.full((len(robot),), float("inf"), device=robot.device),
        torch.zeros(len(robot), dtype=torch.long, device=robot.device))
    held = (nearest < HOLD_RADIUS) & (robot[:, 7] < OPEN_FRACTION_EMPTY)
    return [int(i) if h else None for i, h in zip(index.tolist(), held.tolist())]


def collate(scenes: Sequence[SceneFeatures]) -> dict[str, torch.Tensor]:
    """Stacks scenes into padded tensors (B = len(scenes), N = the largest object count).

    Returns:
        `objects` (B, N, OBJECT_DIM), `masks` (B, N, S, S), `centroids` (B, N, 3),
        `object_mask` (B, N) bool (True for real objects), `n_objects` (B,) long,
        `robot` (B, ROBOT_DIM), and `image` (B, 3, S, S) when every scene has one.
    """
    if not scenes:
        raise ValueError("cannot collate an empty batch")
    b, n = len(scenes), max(s.n_objects for s in scenes)
    size = scenes[0].masks.shape[-1]
    objects = torch.zeros(b, n, OBJECT_DIM)
    masks = torch.zeros(b, n, size, size)
    centroids = torch.zeros(b, n, CENTROID_DIM)
    object_mask = torch.zeros(b, n, dtype=torch.bool)
    for i, s in enumerate(scenes):
        k = s.n_objects
        objects[i, :k] = torch.from_numpy(s.objects)
        masks[i, :k] = torch.from_numpy(s.masks)
        centroids[i, :k] = torch.from_numpy(s.centroids)
        object_mask[i, :k] = True
    batch = {"objects": objects, "masks": masks, "centroids": centroids,
             "object_mask": object_mask, "n_objects": object_mask.sum(dim=1),
             "robot": torch.from_numpy(np.stack([s.robot for s in scenes]))}
    if all(s.image is not None for s in scenes):
        batch["image"] = torch.from_numpy(np.stack([s.image for s in scenes]))
    return batch
