"""Generator events/s, and DNN training throughput through hepml against raw ``model.fit`` (same run).

    python tests/benchmarks/bench_higgs.py [--events 200000] [--epochs 3]

(a) ``hepml.simulate.higgs``: selected events/s, generation only and with the ROOT write.
(b) DNN training: ``hepml.models.dense.fit_dense`` (tf.data pipeline, weights, class balancing,
    built-in standardisation, early-stopping callbacks) against a raw ``model.fit`` of the same
    architecture on the same in-memory numpy arrays, same batch size and epochs; both timed from
    building the network (tracing included), after the framework's start-up is paid by another.
Prints events/s and the ratio hepml / raw (1.0 = no overhead).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from timing import best_of

from hepml.simulate.higgs import generate, write_ntuple


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
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

    # the framework's one-time start-up (kernels, thread pools) paid before either arm, by another model;
    # then each arm builds its own network and traces its own step, as a training job does
    build_dense(28, config, X).fit(X[:2048], y[:2048], batch_size=config.batch_size, epochs=1, verbose=0)
    def raw() -> None:
        keras.utils.set_random_seed(0)
        build_dense(28, config, X).fit(X, y, batch_size=config.batch_size, epochs=args.epochs, verbose=0,
                                       shuffle=True)

    def hepml() -> None:
        fit_dense(X, y, w, X[val], y[val], w[val], config, seed=0)

    # alternated, so that a slower spell of the machine hits both arms alike
    pairs = [(best_of(1, raw), best_of(1, hepml)) for _ in range(args.repeat)]
    t_raw, t_hepml = min(p[0] for p in pairs), min(p[1] for p in pairs)
    rate_raw, rate_hepml = n * args.epochs / t_raw, n * args.epochs / t_hepml
    print(f"raw model.fit                   : {rate_raw:12,.0f} events/s ({t_raw:.1f} s)")
    print(
        f"hepml fit_dense (+ validation)  : {rate_hepml:12,.0f} events/s ({t_hepml:.1f} s)"
        f"  ratio {rate_hepml / rate_raw:.2f}"
    )


if __name__ == "__main__":
    main()
