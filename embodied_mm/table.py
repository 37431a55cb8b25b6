"""Table geometry shared by skills, tasks and perception: the workspace and its named zones.

Frame: the robot base frame. `+x` points away from the robot ("forward", towards the table's
back edge), `+y` to the robot's left. The table top is the plane z = 0. The usable area is
split into a 3×3 grid of zones: rows `front` (near the robot) / middle / `back`, columns
`left` / middle / `right`; the middle cell is `center`.

Example:
    >>> from embodied_mm.table import TABLE
    >>> TABLE.zone_of((0.7, 0.3))
    'back_left'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DIRECTION_VECTORS: dict[str, tuple[float, float]] = {
    "left": (0.0, 1.0),
    "right": (0.0, -1.0),
    "forward": (1.0, 0.0),
    "backward": (-1.0, 0.0),
}
# The side of the table a push in each direction moves an object towards.
SIDE_OF_DIRECTION: dict[str, str] = {
    "left": "left", "right": "right", "forward": "back", "backward": "front",
}


@dataclass(frozen=True)
class TableLayout:
    """The usable table area (m, robot base frame) and its 3×3 zone grid."""

    x_min: float = 0.28
    x_max: float = 0.72
    y_min: float = -0.33
    y_max: float = 0.33

    @property
    def center(self) -> np.ndarray:
        return np.array([(self.x_min + self.x_max) / 2, (self.y_min + self.y_max) / 2])

    def _row(self, x: float) -> str:
        third = (self.x_max - self.x_min) / 3
        if x < self.x_min + third:
            return "front"
        return "back" if x > self.x_max - third else ""

    def _column(self, y: float) -> str:
        third = (self.y_max - self.y_min) / 3
        if y > self.y_max - third:
            return "left"
        return "right" if y < self.y_min + third else ""

    def contains(self, xy, margin: float = 0.0) -> bool:
        """Whether the point lies on the usable area, or within `margin` (m) around it."""
        return (self.x_min - margin <= xy[0] <= self.x_max + margin
                and self.y_min - margin <= xy[1] <= self.y_max + margin)

    def zone_of(self, xy) -> str | None:
        """The zone containing the point, or None off the usable area."""
        if not self.contains(xy):
            return None
        row, column = self._row(xy[0]), self._column(xy[1])
        return "_".join(p for p in (row, column) if p) or "center"

    def zone_center(self, zone: str) -> np.ndarray:
        """(2,) centre of a zone's cell."""
        third_x = (self.x_max - self.x_min) / 3
        third_y = (self.y_max - self.y_min) / 3
        x = {"front": self.x_min + third_x / 2, "back": self.x_max - third_x / 2}
        y = {"left": self.y_max - third_y / 2, "right": self.y_min + third_y / 2}
        cx, cy = self.center
        parts = zone.split("_")
        if zone == "center":
            return np.array([cx, cy])
        if not all(p in x or p in y for p in parts):
            raise ValueError(f"unknown zone {zone!r}")
        row = next((x[p] for p in parts if p in x), cx)
        column = next((y[p] for p in parts if p in y), cy)
        return np.array([row, column])

    def on_side(self, xy, side: str) -> bool:
        """True when the point lies in the row or column named `side` (left/right/front/back)."""
        if not self.contains(xy):
            return False
        return side in (self._row(xy[0]), self._column(xy[1]))


TABLE = TableLayout()
