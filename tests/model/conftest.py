"""Fixtures for the model tests: the tiny LLM (loaded once) and synthetic observations.

The tiny LLM uses the real Gemma tokenizer from the user cache; on a fresh machine the first
test converts the packaged Gemma 3 270M once (about a minute).
"""

from __future__ import annotations

import numpy as np
import pytest

from embodied_mm.types import ObjectState, Observation
from embodied_mm.vocabulary import COLORS, KINDS

IMAGE_SHAPE = (240, 320)


@pytest.fixture(scope="session")
def tiny_llm():
    """(model, tokenizer) of the `tiny` backend, shared: tests must not modify it."""
    from embodied_mm.model.llm import load_llm

    return load_llm("tiny")


@pytest.fixture(scope="session")
def make_model(tiny_llm):
    """Builds a `PalmE` on the shared tiny LLM: `make_model(inputs=("state", "robot"))`."""
    from embodied_mm.model.config import PalmEConfig
    from embodied_mm.model.palme import PalmE

    def make(**config):
        config.setdefault("lora", False)  # unit tests: the encoders alone unless asked
        if config["lora"]:  # LoRA changes the LLM in place: give it its own
            return PalmE(PalmEConfig(llm="tiny", **config))
        return PalmE(PalmEConfig(llm="tiny", **config), llm=tiny_llm)

    return make


def random_observation(rng: np.random.Generator, n_objects: int) -> Observation:
    """A synthetic scene: objects on the table, each with a visible square mask."""
    h, w = IMAGE_SHAPE
    segmentation = np.full(IMAGE_SHAPE, -1, np.int32)
    objects = []
    for i in range(n_objects):
        y, x = rng.integers(0, h - 12), rng.integers(0, w - 12)
        segmentation[y:y + 12, x:x + 12] = 10 + i
        objects.append(ObjectState(
            f"obj_{i + 1}", str(rng.choice(KINDS)), str(rng.choice(list(COLORS))),
            np.array([rng.uniform(0.3, 0.7), rng.uniform(-0.3, 0.3), 0.02]),
            np.array([0.0, 0.0, 0.0, 1.0]), np.full(3, 0.04), mask_id=10 + i))
    return Observation(rng.normal(size=7), float(rng.uniform(0, 0.08)), rng.normal(size=7),
                       objects, rgb=rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
                       segmentation=segmentation)


@pytest.fixture(scope="session")
def make_obs():
    """`make_obs(n_objects, seed=0)` → a synthetic `Observation` with images."""
    return lambda n_objects, seed=0: random_observation(np.random.default_rng(seed), n_objects)
