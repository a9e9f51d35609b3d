"""Images/s for densify + UResNet training step through hepml's pipeline, against a raw Keras
training step on the same images already in memory (same run, same model and batch size).

    python tests/benchmarks/bench_cosmic.py [--events 200] [--wires 128] [--ticks 128]

(a) pipeline: sparse ROOT file -> chunked read -> vectorised densify -> tf.data (prefetch) -> fit
(b) raw: model.fit on the dense numpy tensors
Also prints the generator's events/s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--wires", type=int, default=128)
    parser.add_argument("--ticks", type=int, default=128)
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    from hepml.models.uresnet import UResNetConfig, build_uresnet, class_weights
    from hepml.simulate.lartpc import Geometry, LArTPCConfig, simulate_images, write_events
    from hepml.tasks.cosmic.train import _batches

    geometry = Geometry(wires=args.wires, ticks=args.ticks)
    shape = (3, args.wires, args.ticks)
    config = UResNetConfig()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.root"
        start = time.perf_counter()
        write_events(path, args.events, seed=1, geometry=geometry)
        print(f"generator + sparse write        : {args.events / (time.perf_counter() - start):10,.1f} events/s")
        charge, labels = simulate_images(args.events, geometry, LArTPCConfig(), np.random.default_rng([1, 2024]))
        weights = class_weights(labels, charge)
        spec = (tf.TensorSpec((None, *shape), tf.float32), tf.TensorSpec((None, *shape), tf.int32),
                tf.TensorSpec((None, *shape), tf.float32))
        data = tf.data.Dataset.from_generator(
            lambda: _batches([str(path)], shape, config.batch_size, False, weights, config.empty_weight),
            output_signature=spec).prefetch(tf.data.AUTOTUNE)
        keep = np.arange(args.events) % 10 != 0  # the pipeline's training events
        from hepml.models.uresnet import pixel_weights

        x, y = charge[keep], labels[keep].astype(np.int32)
        w = pixel_weights(labels[keep], charge[keep], weights, config.empty_weight)
        keras.utils.set_random_seed(0)
        model = build_uresnet(*shape, config)
        model.fit(x[:16], y[:16], sample_weight=w[:16], batch_size=config.batch_size, verbose=0)  # tracing
        start = time.perf_counter()
        model.fit(x, y, sample_weight=w, batch_size=config.batch_size, epochs=1, verbose=0)
        t_raw = time.perf_counter() - start
        model.fit(data.take(2), verbose=0)  # tracing of the dataset signature
        start = time.perf_counter()
        model.fit(data, epochs=1, verbose=0)
        t_pipe = time.perf_counter() - start
    n = int(keep.sum())
    print(f"raw fit on in-memory tensors    : {n / t_raw:10,.1f} images/s")
    print(f"hepml pipeline (read+densify+fit): {n / t_pipe:10,.1f} images/s  ratio {t_raw / t_pipe:.2f}")


if __name__ == "__main__":
    main()
