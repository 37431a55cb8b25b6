"""Scene descriptions without a simulator: object specs and their dimensions.

Task families build scenes from these; `sim.world` turns them into PyBullet bodies. Nothing
here imports pybullet, so planners and tests can describe scenes cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embodied_mm.vocabulary import COLORS

BLOCK_SIZES: tuple[float, ...] = (0.04, 0.05)  # m, cube edge
BLOCK_MASS = 0.08  # kg
BOWL_RADIUS = 0.065  # m, inner radius
BOWL_HEIGHT = 0.035  # m, wall height
BOWL_WALL = 0.008  # m
BOWL_BASE = 0.006  # m, base thickness
BOWL_SEGMENTS = 16


@dataclass(frozen=True)
class ObjectSpec:
    """What to put where: kind, colour, size (block edge or bowl outer diameter), pose on table."""

    kind: str
    color: str
    position: tuple[float, float]
    yaw: float = 0.0
    size: float = BLOCK_SIZES[0]

    def __post_init__(self) -> None:
        if self.kind not in ("block", "bowl"):
            raise ValueError(f"unknown object kind {self.kind!r}")
        if self.color not in COLORS:
            raise ValueError(f"unknown colour {self.color!r}; colours: {', '.join(COLORS)}")

    @property
    def footprint_radius(self) -> float:
        """Radius of a circle around the object, for spacing objects apart."""
        if self.kind == "bowl":
            return BOWL_RADIUS + BOWL_WALL
        return self.size * np.sqrt(2) / 2

    def extent(self) -> np.ndarray:
        """(3,) bounding-box size, m."""
        if self.kind == "bowl":
            d = 2 * (BOWL_RADIUS + BOWL_WALL)
            return np.array([d, d, BOWL_HEIGHT])
        return np.array([self.size] * 3)
