"""Scorer throughput (events/s) with the Keras and onnxruntime backends, against the network's raw
``predict`` on the same in-memory feature matrix (same run).

    python tests/benchmarks/bench_scorer.py BUNDLE NTUPLE [--events 200000]

BUNDLE is a dnn bundle (e.g. results/higgs/models/dnn_all after the demo) and NTUPLE a file it can
score (e.g. results/higgs/ntuples/signal.root).  The Scorer timing includes feature building,
fold selection and calibration; raw predict is one fold network on the ready matrix.  The ONNX
export is made first if the bundle has none.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import uproot
from timing import best_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle")
    parser.add_argument("ntuple")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from hepml.scoring import Scorer

    if not (Path(args.bundle) / "onnx" / "model.json").exists():
        from hepml.tasks.higgs.onnx import export_onnx

        export_onnx(args.bundle)
    keras_scorer = Scorer.load(args.bundle)
    onnx_scorer = Scorer.load(args.bundle, "onnxruntime")
    arrays = uproot.open(args.ntuple)["Events"].arrays(keras_scorer.branches, entry_stop=args.events)
    n = len(arrays)
    X = keras_scorer.features(arrays)
    model = keras_scorer.models[0].model  # the Keras network of fold 0 (a DenseFold wraps it)
    model.predict(X[:1000], verbose=0)
    t_raw = best_of(args.repeat, lambda: model.predict(X, batch_size=65536, verbose=0))
    t_keras = best_of(args.repeat, lambda: keras_scorer(arrays))
    t_onnx = best_of(args.repeat, lambda: onnx_scorer(arrays))
    t_feat = best_of(args.repeat, lambda: keras_scorer.features(arrays))
    print(f"events: {n}")
    print(f"raw model.predict (matrix ready) : {n / t_raw:12,.0f} events/s")
    print(f"feature building alone           : {n / t_feat:12,.0f} events/s")
    print(
        f"Scorer, keras backend            : {n / t_keras:12,.0f} events/s  ratio to raw predict {t_raw / t_keras:.2f}"
    )
    print(f"Scorer, onnxruntime backend      : {n / t_onnx:12,.0f} events/s  ratio to raw predict {t_raw / t_onnx:.2f}")
    diff = np.max(np.abs(keras_scorer(arrays)["score_raw"] - onnx_scorer(arrays)["score_raw"]))
    print(f"max |keras - onnx| raw score     : {diff:.1e}")


if __name__ == "__main__":
    main()
