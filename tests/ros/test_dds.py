"""Middleware defaults of graph processes: our Fast DDS profile unless the user chose one."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from embodied_mm.ros.dds import PROFILES_FILE, dds_defaults, default_transport


def test_fast_dds_gets_our_profile_unless_a_profile_or_another_rmw_is_chosen():
    ours = Path(default_transport({})[PROFILES_FILE])
    assert ours.name == "fastdds.xml" and ours.is_file()
    assert default_transport({"RMW_IMPLEMENTATION": "rmw_fastrtps_cpp"})[PROFILES_FILE] == str(ours)
    assert default_transport({PROFILES_FILE: "/mine.xml"})[PROFILES_FILE] == "/mine.xml"
    assert PROFILES_FILE not in default_transport({"FASTRTPS_DEFAULT_PROFILES_FILE": "/old.xml"})
    assert PROFILES_FILE not in default_transport({"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"})
    both = dds_defaults({})
    assert both["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST" and both[PROFILES_FILE]


def test_profile_keeps_both_transports_with_a_segment_for_several_frames():
    root = ET.parse(default_transport({})[PROFILES_FILE]).getroot()
    ns = {"f": root.tag.split("}")[0][1:]}
    kinds = {d.findtext("f:type", namespaces=ns): d
             for d in root.iterfind(".//f:transport_descriptor", ns)}
    assert set(kinds) == {"SHM", "UDPv4"}
    segment = int(kinds["SHM"].findtext("f:segment_size", namespaces=ns))
    assert segment >= 2 * 3 * 640 * 480 * 4  # two 640×480 colour + depth + segmentation frames
    participant = root.find(".//f:participant", ns)
    assert participant.get("is_default_profile") == "true"
    used = [t.text for t in participant.iterfind(".//f:userTransports/f:transport_id", ns)]
    assert sorted(used) == sorted(d.findtext("f:transport_id", namespaces=ns)
                                  for d in kinds.values())
