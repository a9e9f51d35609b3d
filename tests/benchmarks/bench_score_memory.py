"""Peak memory of ``hepml score`` against the size of the file it scores (streaming check).

    python tests/benchmarks/bench_score_memory.py BUNDLE [--events 200000] [--factor 10]

Writes HIGGS-style signal ntuples of ``--events`` and ``factor`` times as many events (cached in
--workdir), scores each with BUNDLE (e.g. results/higgs/models/dnn_all after the demo) in a fresh
process, and prints each process's peak RSS and wall time, and their ratios: streaming means the
ratio of peaks stays near 1 while the time grows with the events.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from timing import cli_peak

from hepml.simulate.higgs import write_ntuple


def score(bundle: str, ntuple: Path, out: Path) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of one ``hepml score`` process."""
    return cli_peak("score", bundle, f"{ntuple}:Events", "--out", str(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--workdir", default="/tmp/hepml-bench")
    args = parser.parse_args()
    folder = Path(args.workdir)
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for i, n in enumerate((args.events, args.events * args.factor)):
        ntuple = folder / f"score_input_{n}.root"
        if not ntuple.exists():  # events the bundle never saw (event numbers far from the demo's)
            write_ntuple(ntuple, "signal", n, seed=100 + i, first_event=10**11 * (i + 1))
        peak, wall = score(args.bundle, ntuple, folder / f"score_output_{n}.root")
        results.append((n, peak, wall))
        print(f"{n:>10,} events: peak RSS {peak:7.0f} MB, {wall:6.1f} s")
    (n0, p0, w0), (n1, p1, w1) = results
    print(f"{n1 / n0:.0f}x the events: {p1 / p0:.2f}x the peak memory, {w1 / w0:.1f}x the time")


if __name__ == "__main__":
    main()
