"""Shared fixtures: a PyBullet world and a connected simulated robot, one client per test."""

from __future__ import annotations

import pytest


@pytest.fixture
def world():
    from sim.world import TabletopWorld

    with TabletopWorld() as w:
        yield w


@pytest.fixture
def robot(world):
    from sim.robot import SimRobot

    with SimRobot(world) as r:
        yield r
