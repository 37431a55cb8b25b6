"""Logging set-up for the command line: `-v` shows debug messages, `-q` only warnings.

Library modules log through `logging.getLogger(__name__)`; only the CLI configures handlers.
A command's own results (plan steps, tables, written paths) are printed, not logged.
"""

from __future__ import annotations

import logging


def configure_logging(verbose: int = 0, quiet: int = 0) -> int:
    """Sends `embodied_mm` log records to stderr at the level the flags choose.

    Args:
        verbose: how many `-v` were given (1: debug messages of this package; 2: of every
            library).
        quiet: how many `-q` were given (1: warnings and errors only; 2: errors only).

    Returns:
        The level set on the `embodied_mm` logger.
    """
    net = verbose - quiet
    level = logging.DEBUG if net > 0 else {0: logging.INFO, -1: logging.WARNING}.get(
        net, logging.ERROR)
    logging.basicConfig(format="%(message)s" if level >= logging.INFO
                        else "%(levelname)s %(name)s: %(message)s",
                        level=logging.DEBUG if verbose >= 2 else logging.WARNING)
    logging.getLogger("embodied_mm").setLevel(level)
    return level
