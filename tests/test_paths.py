"""`share_dir()` finds the configs in a source checkout, an ament-indexed prefix, the prefix the
module was installed under (a plain colcon build, unsourced), or Python's prefix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from embodied_mm.paths import MARKER, PACKAGE, find_share_dir, share_dir

SITE = Path("lib") / "python3.11" / "site-packages"


def _share(prefix: Path, indexed: bool = True) -> Path:
    """A fake install prefix with the package's share directory (and ament index entry)."""
    share = prefix / "share" / PACKAGE
    (share / MARKER).parent.mkdir(parents=True)
    (share / MARKER).write_text("defaults: []\n")
    if indexed:
        index = prefix / "share" / "ament_index" / "resource_index" / "packages"
        index.mkdir(parents=True)
        (index / PACKAGE).write_text("")
    return share


def test_source_checkout_is_the_repository_root():
    assert share_dir() == Path(__file__).resolve().parents[1]
    assert (share_dir() / MARKER).is_file()


def test_plain_colcon_install_is_found_next_to_the_module_unsourced(tmp_path):
    prefix = tmp_path / "install" / PACKAGE
    share = _share(prefix)
    module = prefix / SITE / PACKAGE / "paths.py"
    assert find_share_dir(module, "", tmp_path / "python") == share


def test_ament_index_is_searched_in_prefix_order(tmp_path):
    first, second = _share(tmp_path / "a"), _share(tmp_path / "b")
    module = tmp_path / "elsewhere" / SITE / PACKAGE / "paths.py"
    found = find_share_dir(module, os.pathsep.join([str(tmp_path / "none"), str(tmp_path / "a"),
                                                    str(tmp_path / "b")]), tmp_path / "python")
    assert found == first != second


def test_prefix_without_the_ament_index_entry_is_not_used(tmp_path):
    _share(tmp_path / "a", indexed=False)
    module = tmp_path / "elsewhere" / SITE / PACKAGE / "paths.py"
    with pytest.raises(FileNotFoundError, match="cannot find the embodied_mm configs"):
        find_share_dir(module, str(tmp_path / "a"), tmp_path / "python")


def test_python_prefix_is_the_last_resort(tmp_path):
    share = _share(tmp_path / "venv", indexed=False)
    module = tmp_path / "elsewhere" / SITE / PACKAGE / "paths.py"
    assert find_share_dir(module, "", tmp_path / "venv") == share
