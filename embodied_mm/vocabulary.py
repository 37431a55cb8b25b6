"""Closed vocabularies of the scene: object kinds and colour words with their RGB values.

The sim paints objects with these colours and the colour-segmentation perception looks for
them, so the two always agree.
"""

from __future__ import annotations

KINDS: tuple[str, ...] = ("block", "bowl")

# Colour word -> RGB in [0, 1]; chosen to be distinct under the sim's lighting.
COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.10, 0.10),
    "green": (0.10, 0.70, 0.15),
    "blue": (0.10, 0.25, 0.90),
    "yellow": (0.95, 0.85, 0.10),
    "purple": (0.55, 0.15, 0.75),
    "orange": (1.00, 0.50, 0.05),
    "pink": (1.00, 0.45, 0.70),
    "cyan": (0.10, 0.85, 0.85),
    "brown": (0.50, 0.30, 0.10),
    "white": (0.95, 0.95, 0.95),
}
