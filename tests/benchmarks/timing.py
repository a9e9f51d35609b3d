"""Shared by the benchmark scripts: the best of n wall-clock timings (the least disturbed run)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(n: int, func: Callable[[], object]) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)
