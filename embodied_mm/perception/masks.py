"""Perception's instance masks as one id image: what the `objects` input pools features in.

A camera-only detector (`detect_color`, `detect_learned`) knows each object's pixels; the
planner's `objects` input (`embodied_mm.model.features`) pools image features inside
`obs.segmentation == obj.mask_id`. `mask_image` turns the detector's masks into that pair: each
object gets the id of its position in the list (1, 2, …; 0 is background) and an `(H, W)`
int32 image holds the ids. The perception node publishes it on `/embodied_mm/object_masks`
with the frame's stamp, so the same checkpoint reads the same kind of masks in the sim and on
a real camera.

Example:
    >>> import numpy as np
    >>> from embodied_mm.types import ObjectState
    >>> obj = ObjectState("obj_1", "block", "red", np.zeros(3), np.array([0, 0, 0, 1.0]),
    ...                   np.full(3, 0.04))
    >>> masks = {"obj_1": np.eye(2, dtype=bool)}
    >>> objects, image = mask_image([obj], masks, (2, 2))
    >>> objects[0].mask_id, image.tolist()
    (1, [[1, 0], [0, 1]])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from embodied_mm.types import ObjectState


def mask_image(objects: Sequence[ObjectState], masks: Mapping[str, np.ndarray],
               shape: tuple[int, int]) -> tuple[list[ObjectState], np.ndarray]:
    """(the objects with `mask_id` = their 1-based place in the list, or None for one without
    a mask; the (H, W) int32 id image, 0 where no object is).

    Raises:
        ValueError: a mask whose shape is not `shape`.
    """
    image = np.zeros(shape, np.int32)
    out = []
    for index, obj in enumerate(objects, start=1):
        mask = masks.get(obj.name)
        if mask is None:
            out.append(dataclasses.replace(obj, mask_id=None))
            continue
        if mask.shape != tuple(shape):
            raise ValueError(f"mask of {obj.name} is {mask.shape}, the frame is {tuple(shape)}")
        image[mask] = index
        out.append(dataclasses.replace(obj, mask_id=index))
    return out, image
