"""PyBullet, imported once without the build banner it prints to stderr on import.

The banner would otherwise interleave with command output; every sim module imports
`p` from here.
"""

from __future__ import annotations

import ctypes
import os
import sys


def _import_quietly():
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import pybullet
            import pybullet_data

            ctypes.CDLL(None).fflush(None)  # the banner sits in C's stdio buffer
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return pybullet, pybullet_data


p, pybullet_data = _import_quietly()
