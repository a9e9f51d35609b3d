"""A Higgs fold job's fixed cost: everything but its epochs (start-up, reading, splitting,
predicting, the losses, writing), against its floor measured in the same run.

    python tests/benchmarks/bench_fold_job.py F_SIGNAL.root F_BACKGROUND.root [--layers 5 --units 300]

Runs ``hepml train-fold`` (fold 0 of 3, one epoch) as a batch job would and takes the epoch's own
seconds (from the job's log) off the process's wall time.  The floor: a process that only imports
hepml's network module (the framework's start-up) and a raw ``uproot.arrays`` of the same feature
files.  Issue 27's target on one H200, 4.4 M events: the rest of the job in at most 10 s.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uproot
from timing import best_of

from hepml.features.files import TREE

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "workflows" / "config" / "higgs_features.yaml"
EPOCH = re.compile(r"epoch \d+/\d+: .*, ([0-9.]+) s$")


def fold_job(files: list[str], layers: int, units: int) -> dict[str, float]:
    """Wall seconds of one fold job, its epochs' seconds and the difference."""
    config = json.dumps({"epochs": 1, "layers": layers, "units": units})
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "hepml.cli", "train-fold", *files, "--spec", str(SPEC),
                               "--fold", "0", "--model", "dnn", "--model-config", config,
                               "--out", str(Path(tmp) / "fold0")], capture_output=True, text=True)
        wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"train-fold failed: {done.stderr.strip()[-500:]}")
    epochs = sum(float(m.group(1)) for line in done.stderr.splitlines() if (m := EPOCH.search(line)))
    return {"wall_s": wall, "epochs_s": epochs, "rest_s": wall - epochs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", help="feature files (hepml features), signal and background")
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--units", type=int, default=300)
    args = parser.parse_args()

    start_up = best_of(2, lambda: subprocess.run([sys.executable, "-c", "import hepml.models.dense"], check=True,
                                                 capture_output=True))
    columns = list(uproot.open(args.files[0])[TREE].keys())
    events = 0

    def raw_read() -> None:
        nonlocal events
        events = sum(len(uproot.open(f)[TREE].arrays(columns, library="np")["label"]) for f in args.files)

    read = best_of(2, raw_read)
    job = fold_job(args.files, args.layers, args.units)
    floor = start_up + read
    print(f"events                              : {events:,}")
    print(f"start-up (import hepml.models.dense): {start_up:6.1f} s")
    print(f"raw uproot.arrays of every column   : {read:6.1f} s")
    print(f"fold job, {args.layers} x {args.units}, one epoch        : {job['wall_s']:6.1f} s, of which the epoch "
          f"{job['epochs_s']:.1f} s")
    print(f"the rest of the job                 : {job['rest_s']:6.1f} s = {job['rest_s'] / floor:.2f} x its floor "
          f"({floor:.1f} s: start-up + raw read)")


if __name__ == "__main__":
    main()
