"""Generator events/s, and DNN training throughput through hepml against raw ``model.fit`` (same run).

    python tests/benchmarks/bench_higgs.py [--events 200000] [--epochs 3]

(a) ``hepml.simulate.higgs``: selected events/s, generation only and with the ROOT write.
(b) DNN training: ``hepml.models.dense.fit_dense`` (tf.data pipeline, weights, class balancing,
    built-in standardisation, early-stopping callbacks) against a raw ``model.fit`` of the same
    architecture on the same in-memory numpy arrays, same batch size and epochs.
Prints events/s and the ratio hepml / raw (1.0 = no overhead).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from hepml.simulate.higgs import generate, write_ntuple


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    n = args.events

    start = time.perf_counter()
    generate("signal", n, seed=1)
    t_gen = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_ntuple(Path(tmp) / "b.root", "background", n, seed=1)
        t_write = time.perf_counter() - start
    print(f"generator (signal, in memory)   : {n / t_gen:12,.0f} events/s")
    print(f"generator (background, to ROOT) : {n / t_write:12,.0f} events/s")

    import keras

    from hepml.models.dense import DenseConfig, build_dense, fit_dense

    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 28)).astype(np.float32)
    y = (X[:, :3].sum(axis=1) + rng.normal(size=n) > 0).astype(np.float32)
    w = np.where(rng.random(n) < 0.02, -1.0, 1.0)
    val = slice(0, n // 10)
    config = DenseConfig(epochs=args.epochs, patience=args.epochs + 1)

    keras.utils.set_random_seed(0)
    raw_model = build_dense(28, config, X)
    raw_model.fit(X[:2048], y[:2048], batch_size=config.batch_size, epochs=1, verbose=0)  # warm-up/tracing
    start = time.perf_counter()
    raw_model.fit(X, y, batch_size=config.batch_size, epochs=args.epochs, verbose=0, shuffle=True)
    t_raw = time.perf_counter() - start

    start = time.perf_counter()
    fit_dense(X, y, w, X[val], y[val], w[val], config, seed=0)
    t_hepml = time.perf_counter() - start
    rate_raw, rate_hepml = n * args.epochs / t_raw, n * args.epochs / t_hepml
    print(f"raw model.fit                   : {rate_raw:12,.0f} events/s ({t_raw:.1f} s)")
    print(
        f"hepml fit_dense (+ validation)  : {rate_hepml:12,.0f} events/s ({t_hepml:.1f} s)"
        f"  ratio {rate_hepml / rate_raw:.2f}"
    )


if __name__ == "__main__":
    main()
