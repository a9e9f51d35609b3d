"""Deep fully connected classifier (the HIGGS-benchmark DNN) and its training loop.

Input standardisation lives inside the model (a Keras ``Normalization`` layer adapted on the
training fold), so a saved ``.keras`` file scores raw features with no side files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from hepml.errors import ConfigError
from hepml.features.symmetries import SymmetryColumns
from hepml.models import backend
from hepml.models.progress import EpochProgress
from hepml.models.registry import SMALL_SAMPLE
from hepml.models.weights import equalise
from hepml.settings import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, Settings

backend.configure()

import keras  # noqa: E402

log = logging.getLogger(__name__)

__all__ = [
    "DenseConfig",
    "DenseFold",
    "fit_fold",
    "load_fold",
    "dense_trunk",
    "build_dense",
    "learning_rate",
    "peak_learning_rate",
    "representation_layer",
    "fit_dense",
    "balance_weights",
    "hidden_features",
    "predict",
]


@dataclass
class DenseConfig(Settings):
    """Settings of the dense classifier (the HIGGS-benchmark DNN)."""

    what = "dnn"
    limits = {
        "layers": AT_LEAST_ONE, "units": AT_LEAST_ONE, "dropout": {"minimum": 0, "exclusiveMaximum": 1},
        "normalisation": {"enum": ["none", "batch", "layer"]}, "learning_rate": POSITIVE,
        "weight_decay": NON_NEGATIVE, "l2": NON_NEGATIVE, "batch_size": AT_LEAST_ONE, "epochs": AT_LEAST_ONE,
        "patience": NON_NEGATIVE, "negative_weights": {"enum": ["keep", "abs", "zero"]},
        "size_rule": {"enum": ["auto", "off"]}, "warmup_epochs": NON_NEGATIVE,
        "decay": {"enum": ["none", "cosine"]}, "batch_scaling": {"enum": ["none", "sqrt", "linear"]},
        "activation": {"enum": ["relu", "elu", "selu", "gelu", "silu", "swish", "tanh", "sigmoid", "softplus",
                                "leaky_relu", "relu6", "mish", "linear"]},
    }

    layers: int = 3
    units: int = 128
    activation: str = "relu"
    dropout: float = 0.1
    normalisation: str = "none"  # none | batch | layer
    learning_rate: float = 2e-3
    # the large-batch recipe: the learning rate scaled from batches of REFERENCE_BATCH events to
    # batch_size (none | sqrt | linear), reached by a linear warm-up over warmup_epochs, then held
    # (decay: none) or lowered along a half cosine to 0 at the last epoch (decay: cosine)
    batch_scaling: str = "none"
    warmup_epochs: float = 0.0
    decay: str = "none"
    weight_decay: float = 0.0  # decoupled (AdamW); 0: plain Adam
    l2: float = 0.0  # L2 penalty on the hidden layers' kernels
    batch_size: int = 512
    epochs: int = 30
    patience: int = 5
    balance_classes: bool = True
    negative_weights: str = "keep"  # keep | abs | zero
    size_rule: str = "auto"  # auto: adapt to the number of training events (sized_for); off: as given
    # train on events rotated about the beam, mirrored and with the beams exchanged at random, by
    # the feature spec's symmetries (hepml.features.symmetries): the low-level features' angles
    # stop being something to memorise (measured: docs/explanation/training.md)
    augment: bool = False

    def sized_for(self, n_train: int) -> DenseConfig:
        """The settings for ``n_train`` training events.  Below :data:`SMALL_SAMPLE` events a
        128-unit network fits noise in the low-level features (measured on 15k HIGGS events: the
        28-feature network scored AUC 0.754, below the 7 high-level features' 0.808), so capacity
        is capped (64 units), regularisation raised (dropout >= 0.2, an L2 penalty of 10 / n_train,
        the strength of a fixed prior) and batches made smaller (<= 128, enough gradient steps per
        epoch for early stopping to see a trend).  At and above it the settings are used as given."""
        if self.size_rule == "off" or n_train >= SMALL_SAMPLE:
            return self
        return replace(self, units=min(self.units, 64), dropout=max(self.dropout, 0.2),
                       l2=max(self.l2, 10.0 / max(n_train, 1)), batch_size=min(self.batch_size, 128))


def dense_trunk(inputs: keras.KerasTensor, config: DenseConfig, x_train: np.ndarray | None = None) -> keras.KerasTensor:
    """Standardisation and the hidden layers, shared by the plain and the domain-adversarial
    network, so both learn (and the domain probes read) the same kind of representation."""
    norm = keras.layers.Normalization(name="standardise")
    if x_train is not None:
        norm.adapt(x_train.astype(np.float32))
    x = norm(inputs)
    for i in range(config.layers):
        regulariser = keras.regularizers.L2(config.l2) if config.l2 > 0 else None
        x = keras.layers.Dense(config.units, kernel_regularizer=regulariser, name=f"dense_{i}")(x)
        if config.normalisation == "batch":
            x = keras.layers.BatchNormalization(name=f"batchnorm_{i}")(x)
        elif config.normalisation == "layer":
            x = keras.layers.LayerNormalization(name=f"layernorm_{i}")(x)
        x = keras.layers.Activation(config.activation, name=f"act_{i}")(x)
        if config.dropout > 0:
            x = keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    return x


def representation_layer(model: keras.Model) -> keras.layers.Layer:
    """The last hidden layer after its activation: what a DANN domain head reads and what the
    domain probes compare, the same layer in every dense network."""
    return [layer for layer in model.layers if layer.name.startswith("act_")][-1]


REFERENCE_BATCH = 512  # the batch size the default learning rate was tuned at


def peak_learning_rate(config: DenseConfig) -> float:
    """``config.learning_rate`` scaled from :data:`REFERENCE_BATCH` to ``config.batch_size``: large
    batches take fewer steps, so each may be larger."""
    ratio = config.batch_size / REFERENCE_BATCH
    return config.learning_rate * {"none": 1.0, "sqrt": ratio**0.5, "linear": ratio}[config.batch_scaling]


def learning_rate(config: DenseConfig, steps_per_epoch: int = 1) -> float | keras.optimizers.schedules.CosineDecay:
    """The optimiser's learning rate: :func:`peak_learning_rate`, as a Keras schedule when it warms
    up or decays (a built-in one, so that a saved network loads without custom objects)."""
    peak = peak_learning_rate(config)
    if config.warmup_epochs == 0 and config.decay == "none":
        return peak
    warmup = round(config.warmup_epochs * steps_per_epoch)
    decay_steps = max(config.epochs * steps_per_epoch - warmup, 1)
    alpha = 0.0 if config.decay == "cosine" else 1.0  # alpha 1: held at the peak after the warm-up
    if warmup == 0:
        return keras.optimizers.schedules.CosineDecay(peak, decay_steps, alpha=alpha)
    return keras.optimizers.schedules.CosineDecay(0.0, decay_steps, alpha=alpha, warmup_target=peak,
                                                  warmup_steps=warmup)


def build_dense(n_inputs: int, config: DenseConfig, x_train: np.ndarray | None = None,
                steps_per_epoch: int = 1) -> keras.Model:
    """A sigmoid-output MLP; ``x_train`` adapts the built-in standardisation; ``steps_per_epoch``
    times a warm-up or decay of the learning rate."""
    inputs = keras.Input((n_inputs,), name="features")
    outputs = keras.layers.Dense(1, activation="sigmoid", name="score")(dense_trunk(inputs, config, x_train))
    model = keras.Model(inputs, outputs, name="hepml_dense")
    rate = learning_rate(config, steps_per_epoch)
    optimizer = (keras.optimizers.AdamW(rate, weight_decay=config.weight_decay)
                 if config.weight_decay > 0 else keras.optimizers.Adam(rate))
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.BinaryCrossentropy(),
        weighted_metrics=[],
    )
    return model


def balance_weights(y: np.ndarray, w: np.ndarray, *, balance: bool = True, negative: str = "keep") -> np.ndarray:
    """Training weights: negative ones kept, made absolute or zeroed; each class summing to half."""
    w = np.asarray(w, np.float64)
    if negative == "abs":
        w = np.abs(w)
    elif negative == "zero":
        w = np.clip(w, 0.0, None)
    elif negative != "keep":
        raise ConfigError(f"negative_weights must be keep, abs or zero, not {negative!r}")
    if balance:
        w = equalise(w, y, total=1.0)
    return (w * len(w) / max(np.abs(w).sum(), 1e-300)).astype(np.float32)


def fit_dense(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    w_val: np.ndarray,
    config: DenseConfig,
    *,
    seed: int = 0,
    checkpoint: str | None = None,
    progress: str = "training",
    symmetries: SymmetryColumns | None = None,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Train with early stopping on the weighted validation loss (best weights restored); returns
    the model and its history.  ``config`` is used as given: :func:`fit_fold` sizes it first;
    ``symmetries`` are the columns that ``config.augment`` transforms."""
    keras.utils.set_random_seed(seed)
    model = build_dense(x.shape[1], config, x, steps_per_epoch=-(-len(x) // config.batch_size))
    trainer = _trainer(model, config, symmetries, seed)
    tw = balance_weights(y, w, balance=config.balance_classes, negative=config.negative_weights)
    vw = balance_weights(y_val, w_val, balance=config.balance_classes, negative=config.negative_weights)
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True),
        EpochProgress(progress),
    ]
    if checkpoint:
        callbacks.append(keras.callbacks.ModelCheckpoint(checkpoint, monitor="val_loss", save_best_only=True))
    # in-memory arrays go through Keras' own array adapter (a tf.data pipeline with shuffled
    # batches): measured faster here than a hand-built Dataset.from_tensor_slices + shuffle buffer
    history = trainer.fit(
        x.astype(np.float32, copy=False),
        y.astype(np.float32, copy=False)[:, None],
        sample_weight=tw,
        batch_size=config.batch_size,
        shuffle=True,
        validation_data=(x_val.astype(np.float32, copy=False), y_val.astype(np.float32, copy=False)[:, None], vw),
        validation_batch_size=8192,
        epochs=config.epochs,
        callbacks=callbacks,
        verbose=0,
    )
    return model, {k: [float(v) for v in vals] for k, vals in history.history.items()}


def _trainer(model: keras.Model, config: DenseConfig, symmetries: SymmetryColumns | None, seed: int) -> keras.Model:
    """What ``fit`` trains: ``model`` itself, or with ``config.augment`` ``model`` behind the
    symmetry transformation (:func:`hepml.models.symmetry.augmented`)."""
    if not config.augment:
        return model
    if symmetries is None:
        raise ConfigError("dnn.augment: true needs the feature spec's symmetries (symmetries: {azimuth: [...], "
                          "rapidity: [...]}), and this training was given none; declare them in the spec or set "
                          "augment: false")
    if not symmetries:
        log.info("augment: no column of the spec's symmetries among these features; training on the events as given")
        return model
    from hepml.models.symmetry import augmented

    log.info("augment: rotating %d azimuthal and flipping %d rapidity columns at random", len(symmetries.azimuth),
             len(symmetries.rapidity))
    return augmented(model, symmetries, seed)


def hidden_features(model: keras.Model, x: np.ndarray, batch_size: int = 65536) -> np.ndarray:
    """The activations of :func:`representation_layer`, in batches."""
    extractor = keras.Model(model.input, representation_layer(model).output)
    return np.concatenate(
        [keras.ops.convert_to_numpy(extractor(x[i : i + batch_size], training=False))
         for i in range(0, len(x), batch_size)]
    )


EAGER_BATCH = 65536
COMPILED_BATCH = 8192  # 10-20 % faster than 65536 on the CPU (measured with 5 x 300)


def predict(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Probabilities as float64, in batches, without Keras' per-call progress machinery.

    TensorFlow calls the network eagerly: as fast as its compiled step within the runs' spread,
    and the compiled step would move the scores by 2e-7.  JAX and PyTorch run Keras' compiled
    predict step, every batch padded to one shape so that it compiles once: their eager call is
    2.2 x (JAX) and 1.1 x (PyTorch) slower (1 M events, 5 x 300, 2 CPU cores;
    ``tests/benchmarks/bench_predict.py``)."""
    if not len(x):
        return np.zeros(0)
    if keras.backend.backend() == "tensorflow":
        out = [keras.ops.convert_to_numpy(model(x[i : i + EAGER_BATCH].astype(np.float32), training=False))
               for i in range(0, len(x), EAGER_BATCH)]
    else:
        out = [keras.ops.convert_to_numpy(model.predict_on_batch(_padded(x[i : i + COMPILED_BATCH])))[: len(x) - i]
               for i in range(0, len(x), COMPILED_BATCH)]
    return np.concatenate([part.ravel() for part in out]).astype(np.float64)


def _padded(batch: np.ndarray) -> np.ndarray:
    """``batch`` as float32, zero rows appended up to :data:`COMPILED_BATCH` (one compiled shape)."""
    if len(batch) == COMPILED_BATCH:
        return batch.astype(np.float32, copy=False)
    full = np.zeros((COMPILED_BATCH, *batch.shape[1:]), np.float32)
    full[: len(batch)] = batch
    return full


@dataclass
class DenseFold:
    """A trained fold network (:class:`hepml.models.registry.FittedFold`)."""

    model: keras.Model
    files: list[str]
    history: dict[str, list[float]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # what the network was trained with

    def predict(self, x: np.ndarray) -> np.ndarray:
        return predict(self.model, x)


def fit_fold(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    w_val: np.ndarray,
    *,
    config: dict[str, Any],
    seed: int,
    folder: Path,
    fold: int,
    symmetries: SymmetryColumns | None = None,
) -> DenseFold:
    """One fold of k-fold training: early stopping on the validation events, saved as ``fold<k>.keras``;
    ``symmetries``: the columns ``augment`` transforms."""
    checkpoint = folder / f"checkpoint_fold{fold}.keras"
    given = DenseConfig.from_dict(config)
    sized = given.sized_for(len(x))
    if sized != given:
        log.info("size rule: %d training events (< %d): units %d, dropout %.2g, l2 %.2g, batch %d", len(x),
                 SMALL_SAMPLE, sized.units, sized.dropout, sized.l2, sized.batch_size)
    net, history = fit_dense(x, y, w, x_val, y_val, w_val, sized, seed=seed, checkpoint=str(checkpoint),
                             progress=f"training {folder.name} fold {fold}", symmetries=symmetries)
    net.save(folder / f"fold{fold}.keras")
    checkpoint.unlink(missing_ok=True)
    return DenseFold(net, [f"fold{fold}.keras"], history, sized.as_dict())


def load_fold(file: Path) -> DenseFold:
    """A fold network read back with Keras ``safe_mode`` (a model file never executes code)."""
    return DenseFold(keras.saving.load_model(file, safe_mode=True, compile=False), [])
