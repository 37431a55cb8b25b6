"""Shared fixtures: a PyBullet world and a connected simulated robot, one client per test.

The test process's own ROS 2 nodes (the probes that publish and read topics) get the graph's
Fast DDS profile, as every node process does (`embodied_mm.ros.dds`): with Fast DDS's default
512 KiB shared-memory segment a probe that publishes a colour and a depth image back to back
loses the colour image most of the time.
"""

from __future__ import annotations

import os

import pytest

from embodied_mm.ros.dds import default_transport

default_transport(os.environ)  # before any rclpy participant of this process


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
