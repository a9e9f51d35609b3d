"""Training on randomly transformed copies of the events (:mod:`hepml.features.symmetries`).

The transformation is a layer in front of the network, active only while it trains: each event of
each batch gets its own rotation angle, mirror and beam exchange, drawn on the device in the
compiled step (no host-side copy of the training set per epoch, on every Keras backend).  The
network that is saved and scores is the one behind the layer, so a bundle holds no trace of it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hepml.features.symmetries import SymmetryColumns
from hepml.models import backend

backend.configure()

import keras  # noqa: E402

__all__ = ["SymmetryAugmentation", "augmented"]


@keras.saving.register_keras_serializable(package="hepml")
class SymmetryAugmentation(keras.layers.Layer):
    """Training: every azimuthal column of an event rotated by one uniform angle and wrapped into
    [-pi, pi], all of them mirrored (phi -> -phi) with probability 1/2, every rapidity column's sign
    flipped with probability 1/2.  Inference: the identity.  Azimuthal entries outside [-pi, pi]
    (a fill value such as -999 for a missing object) are left as they are."""

    def __init__(self, n_features: int, azimuth: list[int] | tuple[int, ...] = (),
                 rapidity: list[int] | tuple[int, ...] = (), seed: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "float32")  # angles in bf16 would lose their second digit
        super().__init__(**kwargs)
        self.n_features, self.azimuth, self.rapidity, self.seed = n_features, list(azimuth), list(rapidity), seed
        self._azimuth = np.isin(np.arange(n_features), self.azimuth)[None, :]
        self._rapidity = np.isin(np.arange(n_features), self.rapidity)[None, :]
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x: Any, training: bool | None = None) -> Any:
        if not training:
            return x
        ops = keras.ops
        n = ops.shape(x)[0]

        def sign() -> Any:  # -1 or +1 per event, each with probability 1/2
            return ops.where(keras.random.uniform((n, 1), seed=self.seed_generator) < 0.5, -1.0, 1.0)

        angle = keras.random.uniform((n, 1), -math.pi, math.pi, seed=self.seed_generator)
        turned = x + angle
        rotated = sign() * ops.arctan2(ops.sin(turned), ops.cos(turned))
        x = ops.where(ops.logical_and(self._azimuth, ops.abs(x) <= math.pi), rotated, x)
        return ops.where(self._rapidity, sign() * x, x)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n_features": self.n_features, "azimuth": self.azimuth,
                "rapidity": self.rapidity, "seed": self.seed}


def augmented(model: keras.Model, columns: SymmetryColumns, seed: int) -> keras.Model:
    """``model`` behind a :class:`SymmetryAugmentation` of ``columns``, compiled like it and with
    its optimiser: training this one trains ``model``'s own weights."""
    n_features = int(model.input.shape[-1])
    inputs = keras.Input((n_features,), name="features")
    layer = SymmetryAugmentation(n_features, columns.azimuth, columns.rapidity, seed=seed, name="symmetries")
    trainer = keras.Model(inputs, model(layer(inputs)), name=f"{model.name}_augmented")
    trainer.compile(optimizer=model.optimizer, loss=model.loss, weighted_metrics=[])
    return trainer
