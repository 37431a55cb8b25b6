"""Fixtures for the data tests: a tiny PaLM-E model reading every input."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_palme():
    """A `PalmE` on the `tiny` LLM with objects, image and robot inputs on 32 px images (as
    the data tests generate them); tests must not train it."""
    from embodied_mm.model.config import PalmEConfig
    from embodied_mm.model.palme import PalmE

    return PalmE(PalmEConfig(llm="tiny", inputs=("objects", "image", "robot"),
                            image_size=32)).eval()
