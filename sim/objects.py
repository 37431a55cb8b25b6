"""PyBullet bodies for the scene's objects: cube blocks and open bowls.

Bowls are a compound of a base disc and wall segments, so a block dropped in really rests
inside it. Blocks are light cubes with high friction so the Panda's fingers hold them by
friction alone.
"""

from __future__ import annotations

import numpy as np

from embodied_mm.tasks.specs import (
    BLOCK_MASS,
    BOWL_BASE,
    BOWL_HEIGHT,
    BOWL_RADIUS,
    BOWL_SEGMENTS,
    BOWL_WALL,
    ObjectSpec,
)
from embodied_mm.vocabulary import COLORS
from sim.bullet import p


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
