"""Scoring a Higgs network: hepml's batched predict against Keras' own ``model.predict`` and against
a plain eager call of the network, on the same events in the same run.

    KERAS_BACKEND=jax python tests/benchmarks/bench_predict.py [--events 1000000 --layers 5 --units 300]

A fold job predicts every event it holds (its test events, the losses of its training and
validation events, the overtraining sample) and ``hepml score`` every event of a file, so at the
paper's 5 x 300 the forward passes are most of a fold job outside its epochs on a CPU.
"""

from __future__ import annotations

import argparse

import keras
import numpy as np
from timing import best_of

from hepml.models.dense import EAGER_BATCH, DenseConfig, build_dense, predict


def eager(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """The network called eagerly in batches, as hepml predicted on every backend until 2026-12-05."""
    return np.concatenate([keras.ops.convert_to_numpy(model(x[i : i + EAGER_BATCH], training=False)).ravel()
                           for i in range(0, len(x), EAGER_BATCH)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--units", type=int, default=300)
    args = parser.parse_args()

    x = np.random.default_rng(0).normal(size=(args.events, 28)).astype(np.float32)
    model = build_dense(x.shape[1], DenseConfig(layers=args.layers, units=args.units, dropout=0.0), x[:100_000])
    # odd sizes, as files with a cut give: the last batch is never full
    x = x[: args.events - 1234]
    arms = {
        "keras model.predict, batch 8192": lambda: model.predict(x, batch_size=8192, verbose=0).ravel(),
        "eager call, batch 65536": lambda: eager(model, x),
        "hepml predict": lambda: predict(model, x),
    }
    scores = {name: arm() for name, arm in arms.items()}  # compiles each arm once, outside the timings
    times = {name: best_of(3, arm) for name, arm in arms.items()}
    base = times["keras model.predict, batch 8192"]
    print(f"backend {keras.backend.backend()}, {len(x):,} events, {args.layers} x {args.units}")
    for name, seconds in times.items():
        diff = np.abs(scores[name] - scores["hepml predict"]).max()
        print(f"{name:34s}: {seconds:6.2f} s, {len(x) / seconds / 1e3:7.0f} k events/s, {base / seconds:5.2f} x "
              f"Keras' predict; |score - hepml's| <= {diff:.1e}")


if __name__ == "__main__":
    main()
