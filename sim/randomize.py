"""Render-time domain randomisation for perception training data: light, table tint, camera pose.

What only the renderer can vary lives here (the rest — colour shifts, blur, sensor noise, depth
holes, table texture — is image-space work in `embodied_mm.perception.augment`). A
`RenderVariation` is drawn from a seeded generator, so a dataset frame is reproducible from its
seed alone.

Example:
    >>> import numpy as np
    >>> from sim.world import TabletopWorld
    >>> from sim.randomize import RenderVariation, render_varied
    >>> with TabletopWorld() as world:
    ...     world.reset([])
    ...     variation = RenderVariation.sample(np.random.default_rng(0), world.camera.config)
    ...     rgb, depth, seg = render_varied(world, variation)
    >>> rgb.shape, depth.dtype
    ((240, 320, 3), dtype('float32'))
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from sim.bullet import p
from sim.camera import CameraConfig
from sim.world import TABLE_COLOR, TabletopWorld

EYE_JITTER = 0.04  # m, per axis
TARGET_JITTER = 0.04  # m, per axis
FOV_JITTER = 2.0  # degrees


@dataclass(frozen=True)
class RenderVariation:
    """One draw of the renderer's randomised settings."""

    camera: CameraConfig  # jittered pose and field of view; same image size
    light_direction: tuple[float, float, float]
    light_color: tuple[float, float, float]
    ambient: float
    diffuse: float
    specular: float
    shadow: bool
    table_rgb: tuple[float, float, float]

    @classmethod
    def sample(cls, rng: np.random.Generator, camera: CameraConfig) -> RenderVariation:
        """A random variation around `camera` (its image size is kept)."""
        eye = np.asarray(camera.eye) + rng.uniform(-EYE_JITTER, EYE_JITTER, 3)
        target = np.asarray(camera.target) + rng.uniform(-TARGET_JITTER, TARGET_JITTER, 3)
        jittered = replace(camera, eye=tuple(eye.tolist()), target=tuple(target.tolist()),
                           fov_deg=camera.fov_deg + float(rng.uniform(-FOV_JITTER, FOV_JITTER)))
        azimuth, elevation = rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 1.45)
        direction = (np.cos(azimuth) * np.cos(elevation), np.sin(azimuth) * np.cos(elevation),
                     np.sin(elevation))
        # Table colours from pale wood to grey and dark, never one of the object colours' hues
        # at full saturation: a tinted base colour mixed towards grey.
        base = np.asarray(TABLE_COLOR[:3]) * rng.uniform(0.55, 1.2)
        grey = base.mean()
        table = np.clip(grey + (base - grey) * rng.uniform(0.0, 1.4) +
                        rng.normal(0, 0.04, 3), 0.05, 0.95)
        return cls(camera=jittered, light_direction=tuple(float(v) for v in direction),
                   light_color=tuple(rng.uniform(0.8, 1.0, 3).tolist()),
                   ambient=float(rng.uniform(0.35, 0.8)), diffuse=float(rng.uniform(0.2, 0.6)),
                   specular=float(rng.uniform(0.0, 0.15)), shadow=bool(rng.random() < 0.5),
                   table_rgb=tuple(table.tolist()))


    @classmethod
    def nominal(cls, camera: CameraConfig) -> RenderVariation:
        """No variation: `camera` as configured, the table's own colour (light settings are
        unused by `TabletopWorld.render`)."""
        return cls(camera=camera, light_direction=(0.0, 0.0, 1.0), light_color=(1.0, 1.0, 1.0),
                   ambient=0.6, diffuse=0.35, specular=0.05, shadow=False,
                   table_rgb=tuple(TABLE_COLOR[:3]))


def render_varied(world: TabletopWorld,
                  variation: RenderVariation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The world's frame as seen through `variation`: rgb (H, W, 3) uint8, depth (H, W)
    float32 m, segmentation (H, W) int32 body ids. The table keeps the tint afterwards."""
    c = variation.camera
    p.changeVisualShape(world.table, -1, rgbaColor=[*variation.table_rgb, 1.0],
                        physicsClientId=world.client)
    view = p.computeViewMatrix(c.eye, c.target, c.up)
    proj = p.computeProjectionMatrixFOV(c.fov_deg, c.width / c.height, c.near, c.far)
    _, _, rgba, zbuf, seg = p.getCameraImage(
        c.width, c.height, view, proj, renderer=p.ER_TINY_RENDERER,
        lightDirection=list(variation.light_direction), lightColor=list(variation.light_color),
        lightAmbientCoeff=variation.ambient, lightDiffuseCoeff=variation.diffuse,
        lightSpecularCoeff=variation.specular, shadow=int(variation.shadow),
        physicsClientId=world.client)
    rgb = np.asarray(rgba, dtype=np.uint8).reshape(c.height, c.width, 4)[..., :3]
    zbuf = np.asarray(zbuf, dtype=np.float32).reshape(c.height, c.width)
    depth = c.far * c.near / (c.far - (c.far - c.near) * zbuf)
    return rgb, depth.astype(np.float32), np.asarray(seg, np.int32).reshape(c.height, c.width)
