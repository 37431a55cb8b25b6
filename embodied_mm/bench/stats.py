"""Timing statistics for benchmarks: warm-up excluded, median and p90 in milliseconds.

Example:
    >>> timing = measure(lambda: sum(range(1000)), repeats=5, warmup=1)
    >>> sorted(timing) == ["median_ms", "n", "p90_ms"]
    True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np


def summarize_ms(seconds: Sequence[float]) -> dict:
    """{median_ms, p90_ms, n} of durations given in seconds."""
    ms = np.asarray(seconds, dtype=float) * 1e3
    return {"median_ms": round(float(np.median(ms)), 2),
            "p90_ms": round(float(np.percentile(ms, 90)), 2), "n": len(ms)}


def timings(fn: Callable[[], object], repeats: int, warmup: int = 0) -> list[float]:
    """Runs `fn` `warmup` times untimed, then `repeats` times timed: the durations (s)."""
    return interleaved_timings([fn], repeats, warmup)[0]


def interleaved_timings(fns: Sequence[Callable[[], object]], repeats: int,
                        warmup: int = 0) -> list[list[float]]:
    """Like `timings` for each of `fns`, taking turns (warm-up, then each repeat runs every fn
    once), so a machine whose speed drifts during the run slows them all alike and their
    ratios stay meaningful: the durations (s), one list per fn."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    durations: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, times in zip(fns, durations):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return durations


def measure(fn: Callable[[], object], repeats: int, warmup: int = 0) -> dict:
    """`summarize_ms` of `timings(fn, repeats, warmup)`."""
    return summarize_ms(timings(fn, repeats, warmup))
