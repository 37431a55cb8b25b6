"""Fixtures for the reliability tests: the ROS graph of `tests/ros/conftest.py`, reused.

`graph` starts real node processes in a private ROS domain (localhost discovery) and stops them
at the end; it is loaded lazily so the non-ROS tests here run where rclpy is missing.
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest


def _ros_fixtures():
    pytest.importorskip("rclpy")
    path = Path(__file__).resolve().parents[1] / "ros" / "conftest.py"
    spec = importlib.util.spec_from_file_location("ros_graph_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def graph(tmp_path):
    g = _ros_fixtures().Graph(random.randint(20, 99), tmp_path)
    yield g
    g.close()


def pytest_configure(config):
    config.addinivalue_line("markers", "fuzz: hypothesis fuzzing, bounded in time (CI runs it)")
