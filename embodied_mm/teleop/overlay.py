"""The console's camera view: the colour image with each object's outline and `obj_k` label.

Outlines come from the segmentation image and the objects' mask ids (sim, `perception=gt`);
without a segmentation image the objects are listed in a corner instead.

Example:
    >>> import numpy as np
    >>> jpeg = annotate(np.zeros((48, 64, 3), np.uint8), None, [])
    >>> jpeg[:2] == b"\\xff\\xd8"
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from embodied_mm.types import ObjectState
from embodied_mm.vocabulary import COLORS


def annotate(rgb: np.ndarray, segmentation: np.ndarray | None,
             objects: Sequence[ObjectState], quality: int = 80) -> bytes:
    """JPEG bytes of `rgb` (H, W, 3 uint8) with outlines and labels drawn on a copy."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    scale = max(1.0, 480 / rgb.shape[1])  # draw on a larger copy so labels stay legible
    if scale > 1.0:
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    for i, obj in enumerate(objects):
        color = tuple(int(255 * c) for c in reversed(COLORS.get(obj.color, (1.0, 1.0, 1.0))))
        if segmentation is not None and obj.mask_id is not None \
                and segmentation.shape == rgb.shape[:2]:
            mask = (segmentation == obj.mask_id).astype(np.uint8)
            if scale > 1.0:
                mask = cv2.resize(mask, (bgr.shape[1], bgr.shape[0]),
                                  interpolation=cv2.INTER_NEAREST)
            contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            if not contours:
                continue
            cv2.drawContours(bgr, contours, -1, (255, 255, 255), 3)
            cv2.drawContours(bgr, contours, -1, color, 1)
            x, y, _, _ = cv2.boundingRect(np.vstack(contours))
            _label(bgr, obj.name, (x, max(12, y - 4)))
        else:
            _label(bgr, f"{obj.name}: {obj.color} {obj.kind}", (6, 16 + 16 * i))
    ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("could not encode the camera image as JPEG")
    return jpeg.tobytes()


def _label(image: np.ndarray, text: str, origin: tuple[int, int]) -> None:
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3,
                cv2.LINE_AA)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                cv2.LINE_AA)
