"""What the trust checks cost: the leak fingerprint (size, build, lookup, false matches, a one-ulp
change) and the bundle integrity record (hash at write, verify at load), each against a baseline
of the same run (feature building of the same events; loading the same bundle unverified).

    python tests/benchmarks/bench_trust.py [--events 1000000] [--units 300 --layers 5]

The events are the demo's generator and 28 features; the unseen events come from another seed
with other event numbers, so any match among them is a false one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from timing import best_of

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "workflows" / "config" / "higgs_features.yaml"


def features(folder: Path, events: int, seed: int, first: int) -> tuple[np.ndarray, float]:
    """The 28 features of ``events`` generated events (half per class) and the seconds building took."""
    from hepml.features import FeatureSpec
    from hepml.simulate.higgs import write_ntuple

    spec = FeatureSpec.from_yaml(SPEC)
    tables, seconds = [], 0.0
    for process, offset in (("signal", 0), ("background", 10**9)):
        path = folder / f"{process}_{seed}.root"
        write_ntuple(path, process, events // 2, seed=seed, first_event=first + offset)
        start = time.perf_counter()
        tables += [t.select(spec.groups["all"]).X for t in spec.iter_tables(str(path))]
        seconds += time.perf_counter() - start
    return np.concatenate(tables), seconds


def fingerprint_figures(folder: Path, events: int) -> None:
    from hepml.features.fingerprint import allowed_matches, build_fingerprint
    from hepml.split import fold_of

    X, t_features = features(folder, events, seed=1, first=0)
    unseen, _ = features(folder, events, seed=2, first=5 * 10**9)
    folds = fold_of(np.arange(len(X)), 3, 0)
    start = time.perf_counter()
    fingerprint, why = build_fingerprint(X, folds)
    t_build = time.perf_counter() - start
    assert fingerprint is not None, why
    fingerprint.save(folder / "fingerprint.npz")
    size = os.path.getsize(folder / "fingerprint.npz")
    t_lookup = best_of(3, lambda: fingerprint.lookup(unseen))
    false = int(fingerprint.lookup(unseen)[0].sum())
    changed = X.copy()
    changed[:, 3] = np.nextafter(changed[:, 3], np.float32(np.inf))  # MET by one ulp (a fold-key input)
    kept = float(fingerprint.lookup(changed)[0].mean())
    n = len(X)
    print(f"training events           : {n:,} ({fingerprint.bits} mantissa bits kept, "
          f"{fingerprint.duplicates:.2e} of them share their rounded vector)")
    print(f"fingerprint size          : {size / n:.2f} bytes per event, {size / n * 1e6 / 2**20:.1f} MiB per million")
    print(f"build                     : {t_build:.2f} s  ({t_build / t_features:.2f} x building the features)")
    print(f"lookup                    : {t_lookup / len(unseen) * 1e9:.0f} ns per scored event "
          f"({t_lookup / (t_features * len(unseen) / n):.3f} x building their features)")
    print(f"false matches, unseen     : {false} of {len(unseen):,} (allowed by chance: "
          f"{allowed_matches(fingerprint, len(unseen))}; bound used {fingerprint.false_rate():.1e} per event)")
    print(f"one ulp on MET, found     : {kept:.4f} of the training events")


def integrity_figures(folder: Path, units: int, layers: int) -> None:
    from hepml.bundle import file_hash, read_info, write_info
    from hepml.features import FeatureSpec
    from hepml.features.files import read_features, write_features
    from hepml.scoring import Scorer
    from hepml.simulate.higgs import write_ntuple
    from hepml.tasks.higgs.train import train_kfold

    spec = FeatureSpec.from_yaml(SPEC)
    files = []
    for label, process in ((1, "signal"), (0, "background")):
        write_ntuple(folder / f"b_{process}.root", process, 20_000, seed=3, first_event=label * 10**9)
        files.append(folder / f"bf_{process}.root")
        write_features(spec, str(folder / f"b_{process}.root"), files[-1], label=label)
    table = read_features(files, spec.groups["all"], spec.event_id)
    bundle = folder / "bundle"
    train_kfold(table, bundle, model="dnn", k=3, model_config={"epochs": 1, "units": units, "layers": layers,
                                                               "size_rule": "off"}, spec_config=spec.config)
    info = json.loads((bundle / "bundle.json").read_text())
    size = sum(p.stat().st_size for p in bundle.iterdir() if p.is_file())
    t_write = best_of(5, lambda: write_info(bundle, dict(info)))
    t_load = best_of(5, lambda: Scorer(bundle))
    t_read = best_of(5, lambda: read_info(bundle))
    read = [*info["models"], "feature_spec.yaml", "calibration.json", info["fingerprint"]["file"]]
    t_hash = best_of(5, lambda: [file_hash(bundle / name) for name in read])
    print(f"bundle                    : {layers} x {units} DNN, 3 folds, {size / 2**20:.1f} MiB in "
          f"{len(info['integrity']['files'])} files")
    print(f"hash at write             : {t_write * 1e3:.1f} ms (the whole bundle.json written)")
    print(f"verify at load            : {t_hash * 1e3:.1f} ms hashing the {len(read)} files a Scorer reads, "
          f"{t_hash / t_load:.1%} of its load ({t_load * 1e3:.0f} ms); bundle.json read and checked "
          f"{t_read * 1e3:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--units", type=int, default=300)
    parser.add_argument("--layers", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fingerprint_figures(Path(tmp), args.events)
        integrity_figures(Path(tmp), args.units, args.layers)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
