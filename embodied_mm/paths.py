"""Where the package's data lives: the source tree, or the installed ament share directory."""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE = "embodied_mm"


def share_dir() -> Path:
    """The directory holding `configs/`, `launch/` and `checkpoints/`.

    In a source checkout (editable install) that is the repository root; after a plain
    `pip install` or a colcon build it is `<prefix>/share/embodied_mm`.
    """
    source_root = Path(__file__).resolve().parents[1]
    if (source_root / "configs" / "config.yaml").is_file():
        return source_root
    installed = Path(sys.prefix) / "share" / PACKAGE
    if (installed / "configs" / "config.yaml").is_file():
        return installed
    raise FileNotFoundError(f"cannot find the {PACKAGE} configs in {source_root} or {installed}")


def config_dir() -> Path:
    return share_dir() / "configs"
