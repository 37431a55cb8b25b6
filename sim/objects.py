"""Object specifications and their PyBullet bodies: cube blocks and open bowls.

Bowls are a compound of a base disc and wall segments, so a block dropped in really rests
inside it. Blocks are light cubes with high friction so the Panda's fingers hold them by
friction alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet as p

from embodied_mm.vocabulary import COLORS

BLOCK_SIZES: tuple[float, ...] = (0.04, 0.05)  # m, cube edge
BLOCK_MASS = 0.08  # kg
BOWL_RADIUS = 0.075  # m, inner radius
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


def create_body(spec: ObjectSpec, client: int) -> int:
    """Adds the object to the world of `client` and returns its body id."""
    rgba = (*COLORS[spec.color], 1.0)
    if spec.kind == "block":
        half = [spec.size / 2] * 3
        col = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=client)
        vis = p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=rgba,
                                  physicsClientId=client)
        orn = p.getQuaternionFromEuler([0, 0, spec.yaw])
        body = p.createMultiBody(BLOCK_MASS, col, vis, [*spec.position, spec.size / 2], orn,
                                 physicsClientId=client)
        p.changeDynamics(body, -1, lateralFriction=1.2, spinningFriction=0.002,
                         rollingFriction=0.0001, physicsClientId=client)
        return body
    return _create_bowl(spec, rgba, client)


def _create_bowl(spec: ObjectSpec, rgba, client: int) -> int:
    shapes, half_extents, positions, orientations = [], [], [], []
    # Base: a flat box covering the inner disc.
    shapes.append(p.GEOM_BOX)
    half_extents.append([BOWL_RADIUS + BOWL_WALL, BOWL_RADIUS + BOWL_WALL, BOWL_BASE / 2])
    positions.append([0, 0, BOWL_BASE / 2])
    orientations.append([0, 0, 0, 1])
    seg_len = 2 * np.pi * (BOWL_RADIUS + BOWL_WALL / 2) / BOWL_SEGMENTS * 1.05
    for k in range(BOWL_SEGMENTS):
        a = 2 * np.pi * k / BOWL_SEGMENTS
        r = BOWL_RADIUS + BOWL_WALL / 2
        shapes.append(p.GEOM_BOX)
        half_extents.append([BOWL_WALL / 2, seg_len / 2, BOWL_HEIGHT / 2])
        positions.append([r * np.cos(a), r * np.sin(a), BOWL_HEIGHT / 2])
        orientations.append(p.getQuaternionFromEuler([0, 0, a]))
    col = p.createCollisionShapeArray(shapes, halfExtents=half_extents,
                                      collisionFramePositions=positions,
                                      collisionFrameOrientations=orientations,
                                      physicsClientId=client)
    vis = p.createVisualShapeArray(shapes, halfExtents=half_extents,
                                   visualFramePositions=positions,
                                   visualFrameOrientations=orientations,
                                   physicsClientId=client)
    # Bowls are static fixtures: mass 0 keeps them where the scene put them.
    body = p.createMultiBody(0, col, vis, [*spec.position, 0.0],
                             p.getQuaternionFromEuler([0, 0, spec.yaw]), physicsClientId=client)
    p.changeVisualShape(body, -1, rgbaColor=rgba, physicsClientId=client)
    p.changeDynamics(body, -1, lateralFriction=1.0, physicsClientId=client)
    return body
