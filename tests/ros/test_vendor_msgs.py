"""The message definitions and type hashes kept in `ros/msg/` are those of the installed ROS 2
interface packages, and cover every topic type of the graph."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from embodied_mm.ros import topics
from embodied_mm.ros.mcap_schema import HASHES_FILE, MSG_DIR, schema_text, type_hash
from embodied_mm.ros.vendor_msgs import vendor

SHARE = Path(sys.prefix) / "share"


def test_vendored_definitions_and_hashes_match_the_installed_packages(tmp_path):
    names = vendor(SHARE, tmp_path)
    assert set(topics.TOPIC_TYPES.values()) <= set(names)
    for name in names:
        pkg, typ = name.split("/")
        assert (MSG_DIR / pkg / f"{typ}.msg").read_text() == \
            (tmp_path / pkg / f"{typ}.msg").read_text(), name
    assert (MSG_DIR / HASHES_FILE).read_text() == (tmp_path / HASHES_FILE).read_text()


@pytest.mark.parametrize("type_name", sorted(set(topics.TOPIC_TYPES.values())))
def test_every_topic_type_has_a_schema_and_a_type_hash(type_name):
    assert schema_text(type_name).strip()
    assert type_hash(type_name).startswith("RIHS01_") and len(type_hash(type_name)) == 71
