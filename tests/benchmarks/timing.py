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


RUN = ("import resource, sys\nfrom hepml.cli import main\ncode = main(sys.argv[1:])\n"
       "print('peak_rss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\nsys.exit(code)")


def cli_peak(*args: str) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of one ``hepml ARGS`` process, which must succeed."""
    import subprocess
    import sys

    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"hepml {' '.join(args)}: exit {done.returncode}: {done.stderr.strip()[-500:]}")
    peak = next(int(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("peak_rss_kb"))
    return peak / 1024, wall
