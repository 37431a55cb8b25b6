"""Image-space domain randomisation of one RGB-D frame: what a real camera adds to a clean render.

Colour: a table texture (low-frequency blotches and grain over the table's pixels), per-channel
gain, offset and gamma (white balance, exposure), blur and sensor noise. Depth: noise growing
with range, holes (blobs with no reading) and dropped pixels along depth edges (the flying
pixels a stereo or ToF camera invalidates), quantised to millimetres as a `16UC1` driver sends
it. Render-time randomisation (light, table tint, camera pose) is `sim.randomize`.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> rgb, depth = np.full((240, 320, 3), 128, np.uint8), np.ones((240, 320), np.float32)
    >>> out_rgb, out_depth = augment_frame(rng, rgb, depth, table=np.ones((240, 320), bool))
    >>> out_rgb.dtype, out_depth.dtype
    (dtype('uint8'), dtype('uint16'))
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Augmentation:
    """Ranges of the image-space randomisation (uniform draws unless said otherwise)."""

    texture_strength: tuple[float, float] = (0.0, 0.25)  # relative brightness swing on the table
    gain: tuple[float, float] = (0.88, 1.12)  # per colour channel
    offset: tuple[float, float] = (-12.0, 12.0)  # grey levels, all channels alike
    gamma: tuple[float, float] = (0.8, 1.25)
    blur_probability: float = 0.5
    blur_sigma: tuple[float, float] = (0.3, 1.2)  # px
    noise_sigma: tuple[float, float] = (0.0, 6.0)  # grey levels
    depth_noise: tuple[float, float] = (0.0005, 0.002)  # m of sigma at 1 m (grows with z^2)
    holes: tuple[int, int] = (0, 6)  # blobs without depth per frame
    hole_radius: tuple[int, int] = (2, 9)  # px
    edge_drop: tuple[float, float] = (0.0, 0.6)  # share of depth-edge pixels that read nothing


def augment_frame(rng: np.random.Generator, rgb: np.ndarray, depth: np.ndarray,
                  table: np.ndarray, params: Augmentation | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """A randomised copy of a clean frame.

    Args:
        rng: the frame's generator.
        rgb: (H, W, 3) uint8.
        depth: (H, W) float32 m.
        table: (H, W) bool, the table's pixels (where a texture goes).
        params: ranges.

    Returns:
        rgb (H, W, 3) uint8 and depth (H, W) uint16 mm, 0 where there is no reading.
    """
    a = params or Augmentation()
    image = rgb.astype(np.float32)
    strength = rng.uniform(*a.texture_strength)
    if strength > 0:
        image[table] *= 1.0 + strength * _texture(rng, rgb.shape[:2])[table, None]
    image = image * rng.uniform(*a.gain, size=3) + rng.uniform(*a.offset)
    image = 255.0 * (np.clip(image, 0, 255) / 255.0) ** rng.uniform(*a.gamma)
    if rng.random() < a.blur_probability:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(*a.blur_sigma))
    image += rng.normal(0, rng.uniform(*a.noise_sigma), image.shape)
    out_rgb = np.clip(image + 0.5, 0, 255).astype(np.uint8)

    z = depth.astype(np.float64)
    z = z + rng.normal(0, 1, z.shape) * rng.uniform(*a.depth_noise) * z**2
    invalid = np.zeros(z.shape, np.uint8)
    for _ in range(rng.integers(a.holes[0], a.holes[1] + 1)):
        center = (int(rng.integers(z.shape[1])), int(rng.integers(z.shape[0])))
        axes = tuple(int(v) for v in rng.integers(*a.hole_radius, size=2))
        cv2.ellipse(invalid, center, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    edges = np.zeros(z.shape, bool)
    edges[:, 1:] |= np.abs(np.diff(depth, axis=1)) > 0.02
    edges[1:, :] |= np.abs(np.diff(depth, axis=0)) > 0.02
    drop = edges & (rng.random(z.shape) < rng.uniform(*a.edge_drop))
    millimetres = np.clip(np.round(z * 1000), 0, 65535).astype(np.uint16)
    millimetres[(invalid > 0) | drop] = 0
    return out_rgb, millimetres


def _texture(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) zero-mean texture in about [-1, 1]: blotches, grain along one direction, speckle."""
    h, w = shape
    blotches = cv2.resize(rng.normal(0, 1, (max(2, h // 40), max(2, w // 40))).astype(np.float32),
                          (w, h), interpolation=cv2.INTER_CUBIC)
    angle = rng.uniform(0, np.pi)
    v, u = np.mgrid[0:h, 0:w]
    phase = (u * np.cos(angle) + v * np.sin(angle)) * rng.uniform(0.1, 0.6)
    grain = np.sin(phase + 2.0 * blotches)
    speckle = rng.normal(0, 0.5, shape)
    mix = rng.dirichlet(np.ones(3))
    texture = mix[0] * blotches + mix[1] * grain + mix[2] * speckle
    return (texture / max(float(np.abs(texture).max()), 1e-6)).astype(np.float32)
