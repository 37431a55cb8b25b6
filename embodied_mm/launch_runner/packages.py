"""Package look-ups as `ros2 run` / `$(find-pkg-share ...)` do them, without ament_index.

A package's share directory is `<prefix>/share/<pkg>` and a node executable is
`<prefix>/lib/<pkg>/<exec>`, for each prefix of `$AMENT_PREFIX_PATH` in order. `embodied_mm`
itself also works from a source checkout or a plain pip install: its share directory is
`embodied_mm.paths.share_dir()` and its nodes run as `python -m embodied_mm.ros.<exec>`.

Example:
    >>> find_executable("embodied_mm", "sim_node", {})[1:]
    ['-m', 'embodied_mm.ros.sim_node']
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from embodied_mm.paths import PACKAGE, share_dir


class PackageError(ValueError):
    """An unknown package, or an executable the package does not have."""


def _prefixes(env: Mapping[str, str]) -> list[Path]:
    return [Path(p) for p in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]


def find_package_share(pkg: str, env: Mapping[str, str]) -> Path:
    """The share directory of `pkg`; raises `PackageError` if no prefix has it."""
    if pkg == PACKAGE:
        try:
            return share_dir()
        except FileNotFoundError as err:
            raise PackageError(str(err)) from err
    for prefix in _prefixes(env):
        if (prefix / "share" / pkg).is_dir():
            return prefix / "share" / pkg
    raise PackageError(f"unknown package '{pkg}' (no share/{pkg} in $AMENT_PREFIX_PATH)")


def find_executable(pkg: str, exe: str, env: Mapping[str, str]) -> list[str]:
    """The command that runs executable `exe` of package `pkg`, as a list of arguments."""
    known = False
    for prefix in _prefixes(env):
        candidate = prefix / "lib" / pkg / exe
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
        known = known or (prefix / "lib" / pkg).is_dir() or (prefix / "share" / pkg).is_dir()
    if pkg == PACKAGE:
        if not exe.isidentifier():
            raise PackageError(f"'{exe}' is not an {PACKAGE} node module name")
        return [sys.executable, "-m", f"{PACKAGE}.ros.{exe}"]
    if known:
        raise PackageError(f"package '{pkg}' has no executable '{exe}' in lib/{pkg}/")
    raise PackageError(f"unknown package '{pkg}' (not found in $AMENT_PREFIX_PATH)")
