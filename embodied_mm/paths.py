"""Where the package's data lives: the source tree, or the installed share directory.

`share_dir()` looks, in order, at the source checkout (editable install), the ament index
(`AMENT_PREFIX_PATH`, set by sourcing a colcon workspace's `install/setup.bash`), the install
prefix this module was installed under (a plain `colcon build` or `pip install --prefix`, even
unsourced), and Python's own prefix (`pip install` into a venv).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE = "embodied_mm"
MARKER = Path("configs") / "config.yaml"  # a share directory holds this file


def share_dir() -> Path:
    """The directory holding `configs/`, `launch/` and `checkpoints/`.

    Raises:
        FileNotFoundError: naming every place looked at.
    """
    return find_share_dir(Path(__file__).resolve(), os.environ.get("AMENT_PREFIX_PATH", ""),
                          Path(sys.prefix))


def find_share_dir(module_file: Path, ament_prefix_path: str, python_prefix: Path) -> Path:
    """`share_dir()` with its inputs given: this module's path, `AMENT_PREFIX_PATH`, and
    `sys.prefix`."""
    candidates = [module_file.parents[1]]  # the repository root of a source checkout
    candidates += [Path(prefix) / "share" / PACKAGE for prefix in ament_prefix_path.split(
        os.pathsep) if prefix and _ament_indexed(Path(prefix))]
    # <prefix>/lib/pythonX.Y/site-packages/embodied_mm/paths.py -> <prefix>
    if len(module_file.parents) > 4:
        candidates.append(module_file.parents[4] / "share" / PACKAGE)
    candidates.append(python_prefix / "share" / PACKAGE)
    for candidate in candidates:
        if (candidate / MARKER).is_file():
            return candidate
    raise FileNotFoundError(f"cannot find the {PACKAGE} configs ({MARKER}) in any of: "
                            + ", ".join(str(c) for c in dict.fromkeys(candidates)))


def _ament_indexed(prefix: Path) -> bool:
    """True if the ament index under `prefix` registers this package."""
    return (prefix / "share" / "ament_index" / "resource_index" / "packages" / PACKAGE).is_file()


def config_dir() -> Path:
    """The Hydra config directory (`<share>/configs`)."""
    return share_dir() / "configs"
