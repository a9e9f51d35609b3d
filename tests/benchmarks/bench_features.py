"""Feature-building throughput against a raw uproot read of the same branches (same run).

    python tests/benchmarks/bench_features.py [--events 1000000] [--step-size "100 MB"]

Writes a HIGGS-style ntuple of ``--events`` events (once, cached in --workdir), then times
(a) ``uproot.open(f)[tree].arrays(branches)``, the raw read of every branch the spec needs, and
(b) hepml's chunked feature building of the 28 HIGGS features from the same file, and
(c) hepml's chunked feature building of the 21 low-level features only.
Prints events/s and the ratio raw_time / hepml_time (1.0 = as fast as reading alone); with
``--procs N``, the throughput of N processes building the 28 features at once against one.
"""

from __future__ import annotations

import argparse
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import uproot
from timing import best_of

from hepml.features import FeatureSpec
from hepml.simulate.higgs import write_ntuple

SPEC = Path(__file__).resolve().parents[2] / "workflows" / "config" / "higgs_features.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--step-size", default="100 MB")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", default="/tmp/hepml-bench")
    parser.add_argument("--procs", type=int, default=1, help="also time this many processes building at once")
    args = parser.parse_args()
    path = Path(args.workdir) / f"higgs_signal_{args.events}.root"
    if not path.exists():
        start = time.perf_counter()
        write_ntuple(path, "signal", args.events, seed=1)
        dt = time.perf_counter() - start
        print(f"generated {args.events} events in {dt:.1f} s ({args.events / dt:,.0f} events/s incl. writing)")
    spec = FeatureSpec.from_yaml(SPEC)
    branches = spec.branches()
    low = FeatureSpec({**spec.config, "features": {k: v for k, v in spec.config["features"].items()
                                                   if k in spec.groups["low"]}, "groups": {}})

    def raw() -> None:
        uproot.open(path)["Events"].arrays(branches)

    def build(s: FeatureSpec) -> None:
        for table in s.iter_tables(str(path), step_size=args.step_size):
            assert table.X.shape[1] > 0

    t_raw = best_of(args.repeat, raw)
    t_all = best_of(args.repeat, lambda: build(spec))
    t_low = best_of(args.repeat, lambda: build(low))
    n = args.events
    print(f"branches read: {len(branches)}; step size {args.step_size}")
    print(f"raw uproot.arrays          : {n / t_raw:12,.0f} events/s ({t_raw:.2f} s)")
    print(f"hepml features, 28 (all)   : {n / t_all:12,.0f} events/s ({t_all:.2f} s)  ratio {t_raw / t_all:.2f}")
    print(f"hepml features, 21 (low)   : {n / t_low:12,.0f} events/s ({t_low:.2f} s)  ratio {t_raw / t_low:.2f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if args.procs > 1:  # scaling across cores: each process builds the whole file, as batch jobs would
        with ProcessPoolExecutor(args.procs) as pool:
            list(pool.map(_build_file, [str(path)] * args.procs))  # start the workers, import hepml
            start = time.perf_counter()
            list(pool.map(_build_file, [str(path)] * args.procs))
            t_procs = time.perf_counter() - start
        efficiency = t_all / t_procs  # linear: N times the work in the time of one
        print(f"{args.procs} processes at once: {args.procs * n / t_procs:12,.0f} events/s ({t_procs:.2f} s), "
              f"{efficiency:.2f} x linear scaling from one process")


def _build_file(path: str) -> int:
    return sum(len(table) for table in FeatureSpec.from_yaml(SPEC).iter_tables(path))


if __name__ == "__main__":
    main()
