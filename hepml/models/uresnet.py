"""UResNet for per-pixel segmentation of LArTPC wire planes (background / cosmic / neutrino).

SBND style (Acciarri et al. 2021): the three planes go through one encoder with shared weights,
their deepest features are merged (each plane sees all planes at the bottleneck), and one shared
decoder with U-Net skip connections returns per-pixel class probabilities for each plane.  Shared
weights come from folding the plane axis into the batch (:class:`FoldPlanes`).

Class imbalance: weighted cross-entropy, each pixel weighted by the inverse frequency of its true
class among pixels with charge, and empty pixels by a small constant.  Chosen over focal loss
because it keeps the softmax outputs interpretable as probabilities (they are written back and
thresholded) and has no extra hyperparameter to tune; the weights are stored in the bundle.
``dice`` adds a soft-Dice term on the cosmic and neutrino classes (:class:`CrossEntropyDice`), which
aims at the IoU; its cost in calibration is measured per class (ECE) by the evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hepml.errors import ConfigError
from hepml.models import backend
from hepml.models.progress import EpochProgress
from hepml.settings import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, Settings

backend.configure()

import keras  # noqa: E402
from keras import ops  # noqa: E402

__all__ = [
    "UResNetConfig",
    "build_uresnet",
    "level_filters",
    "fit_uresnet",
    "pooled_bottleneck",
    "FoldPlanes",
    "UnfoldPlanes",
    "MergePlanes",
    "pixel_weights",
    "class_weights",
    "CrossEntropyDice",
    "use_mixed_precision_if_gpu",
]


@keras.saving.register_keras_serializable(package="hepml")
class FoldPlanes(keras.layers.Layer):
    """(batch, planes, wires, ticks) -> (batch * planes, wires, ticks, 1): planes share every weight."""

    def call(self, x: Any) -> Any:
        shape = ops.shape(x)
        return ops.reshape(x, (-1, shape[2], shape[3], 1))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (None, input_shape[2], input_shape[3], 1)


@keras.saving.register_keras_serializable(package="hepml")
class UnfoldPlanes(keras.layers.Layer):
    """(batch * planes, wires, ticks, classes) -> (batch, planes, wires, ticks, classes)."""

    def __init__(self, planes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.planes = int(planes)

    def call(self, x: Any) -> Any:
        shape = ops.shape(x)
        return ops.reshape(x, (-1, self.planes, shape[1], shape[2], shape[3]))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (None, self.planes, *input_shape[1:])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "planes": self.planes}


@keras.saving.register_keras_serializable(package="hepml")
class MergePlanes(keras.layers.Layer):
    """At the bottleneck, append to each plane's features the features of all planes."""

    def __init__(self, planes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.planes = int(planes)

    def call(self, x: Any) -> Any:
        shape = ops.shape(x)
        h, w, c = shape[1], shape[2], shape[3]
        grouped = ops.reshape(x, (-1, self.planes, h, w, c))
        together = ops.reshape(ops.transpose(grouped, (0, 2, 3, 1, 4)), (-1, h, w, self.planes * c))
        return ops.concatenate([x, ops.repeat(together, self.planes, axis=0)], axis=-1)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        channels = input_shape[3]
        return (*input_shape[:3], None if channels is None else channels * (1 + self.planes))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "planes": self.planes}


@keras.saving.register_keras_serializable(package="hepml")
class CrossEntropyDice(keras.losses.Loss):
    """Pixel-weighted cross-entropy plus ``dice`` x (1 - soft Dice) averaged over the classes after
    the first (cosmic, neutrino).  The Dice term is a ratio over the whole batch, so it rewards the
    overlap that the IoU counts, whatever the classes' sizes; the pixel weights apply to the
    cross-entropy only."""

    def __init__(self, dice: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dice = float(dice)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        y_pred = ops.cast(y_pred, "float32")
        y_true = ops.cast(y_true, "int32")
        cross_entropy = ops.sparse_categorical_crossentropy(y_true, y_pred)
        if sample_weight is not None:
            cross_entropy = cross_entropy * ops.cast(sample_weight, "float32")
        truth = ops.one_hot(y_true, ops.shape(y_pred)[-1])[..., 1:]
        predicted = y_pred[..., 1:]
        axes = tuple(range(len(y_pred.shape) - 1))
        overlap = ops.sum(truth * predicted, axis=axes)
        dice = (2.0 * overlap + 1.0) / (ops.sum(truth, axis=axes) + ops.sum(predicted, axis=axes) + 1.0)
        return ops.mean(cross_entropy) + self.dice * ops.mean(1.0 - dice)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dice": self.dice}


@dataclass
class UResNetConfig(Settings):
    """Settings of the UResNet and its training."""

    what = "uresnet"
    limits = {
        "depth": {"minimum": 1, "maximum": 8}, "filters": AT_LEAST_ONE, "blocks": AT_LEAST_ONE,
        "learning_rate": POSITIVE, "batch_size": AT_LEAST_ONE, "epochs": AT_LEAST_ONE, "empty_weight": NON_NEGATIVE,
        "crop": NON_NEGATIVE, "schedule": {"enum": ["constant", "cosine"]}, "dice": NON_NEGATIVE,
        "growth": {"enum": ["doubling", "additive"]},
    }

    depth: int = 3
    filters: int = 8
    blocks: int = 1  # residual blocks per level
    learning_rate: float = 3e-3
    batch_size: int = 8
    epochs: int = 8
    empty_weight: float = 0.01  # loss weight of pixels without charge
    crop: int = 0  # train on crops of crop x crop pixels around activity (hepml.models.augment); 0: whole windows
    flips: bool = False  # train on windows flipped along wires and ticks at random
    mirrors: bool = False  # train on the drift and up-down mirror images of events at random (augment.mirror)
    schedule: str = "constant"  # learning rate: constant, or cosine (decays to 5 % over the epochs)
    shuffle: bool = False  # new order of the windows of each read chunk every epoch (Keras cannot shuffle a stream)
    dice: float = 0.0  # weight of a soft-Dice term on the cosmic and neutrino classes (CrossEntropyDice)
    # filters per level: doubling (filters x 2^level), or additive (filters x (level + 1)), CosmicTagger's
    # choice for full windows: the deep levels, whose pixels are few, then hold far fewer weights
    growth: str = "doubling"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.crop and self.crop % 2**self.depth:
            raise ConfigError(f"uresnet.crop: {self.crop} must be divisible by 2^depth = {2**self.depth}")


def level_filters(config: UResNetConfig, level: int) -> int:
    """The filters of a level of the encoder and decoder (``config.depth``: the bottleneck)."""
    return config.filters * (level + 1 if config.growth == "additive" else 2**level)


def _residual(x: Any, filters: int, name: str) -> Any:
    shortcut = x if x.shape[-1] == filters else keras.layers.Conv2D(filters, 1, name=f"{name}_proj")(x)
    y = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv1")(x)
    y = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn1")(y)
    y = keras.layers.Activation("relu", name=f"{name}_relu1")(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(y)
    y = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn2")(y)
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.Activation("relu", name=f"{name}_out")(y)


def build_uresnet(planes: int, wires: int, ticks: int, config: UResNetConfig, classes: int = 3) -> keras.Model:
    """Input (batch, planes, wires, ticks) charge; output (batch, planes, wires, ticks, classes)."""
    if wires % 2**config.depth or ticks % 2**config.depth:
        raise ConfigError(f"uresnet: image {wires}x{ticks} must be divisible by 2^depth = {2**config.depth}")
    # trained on crops, the network takes any image size (it is fully convolutional) and scores whole
    # windows; without crops the input keeps the window's size, which keeps TensorFlow's numerics
    # and so the trained weights of the demo unchanged
    inputs = keras.Input((planes, None, None) if config.crop else (planes, wires, ticks), name="charge")
    x = FoldPlanes(name="fold_planes")(inputs)
    x = keras.layers.Rescaling(0.5, name="scale")(x)
    skips = []
    for level in range(config.depth):
        for b in range(config.blocks):
            x = _residual(x, level_filters(config, level), f"enc{level}_{b}")
        skips.append(x)
        x = keras.layers.Conv2D(level_filters(config, level + 1), 2, strides=2, name=f"down{level}")(x)
    x = MergePlanes(planes, name="merge_planes")(x)
    x = _residual(x, level_filters(config, config.depth), "bottleneck")
    for level in reversed(range(config.depth)):
        x = keras.layers.Conv2DTranspose(level_filters(config, level), 2, strides=2, name=f"up{level}")(x)
        x = keras.layers.Concatenate(name=f"skip{level}")([x, skips[level]])
        for b in range(config.blocks):
            x = _residual(x, level_filters(config, level), f"dec{level}_{b}")
    x = keras.layers.Conv2D(classes, 1, name="logits")(x)
    x = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    outputs = UnfoldPlanes(planes, name="unfold_planes")(x)
    model = keras.Model(inputs, outputs, name="uresnet")
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        # without dice, Keras' own loss: the demo's recipe keeps its numerics
        loss=CrossEntropyDice(config.dice) if config.dice else keras.losses.SparseCategoricalCrossentropy(),
        weighted_metrics=[],
    )
    return model


def class_weights(labels: np.ndarray, charge: np.ndarray, classes: int = 3) -> np.ndarray:
    """Inverse class frequencies among pixels with charge, normalised to mean 1 over those pixels."""
    counts = np.bincount(labels[charge > 0].ravel(), minlength=classes).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / classes, 1.0)
    return np.clip(weights, 0.1, 10.0)  # rare noise pixels must not dominate the loss


def pixel_weights(labels: np.ndarray, charge: np.ndarray, weights: np.ndarray, empty_weight: float) -> np.ndarray:
    """Per-pixel loss weights: by true class where there is charge, ``empty_weight`` elsewhere.

    Only the few pixels with charge are looked up (a full SBND window has 7.9 M pixels, a few
    per cent of them hit): 8 times faster than weighting every pixel and choosing after."""
    out = np.full(charge.shape, empty_weight, np.float32)
    hit = charge > 0
    out[hit] = np.asarray(weights, np.float32)[labels[hit]]
    return out


def pooled_bottleneck(model: keras.Model, charge: np.ndarray, batch: int = 16) -> np.ndarray:
    """Per event: each plane's bottleneck features averaged over wires and ticks, planes side by
    side (what the DANN domain head reads, before its learned layers)."""
    extractor = keras.Model(model.input, model.get_layer("bottleneck_out").output)
    planes, rows = charge.shape[1], []
    for i in range(0, len(charge), batch):
        out = keras.ops.convert_to_numpy(extractor(charge[i : i + batch], training=False))
        pooled = out.astype(np.float32).mean(axis=(1, 2))
        rows.append(pooled.reshape(-1, planes * pooled.shape[-1]))
    return np.concatenate(rows)


def fit_uresnet(
    batches: Any, shape: tuple[int, ...], config: UResNetConfig, steps: tuple[int, int], *, seed: int = 0,
    progress: str = "training",
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Train from ``batches(validation)``, a factory of (charge, labels, pixel weights) batches, of
    ``steps`` (training, validation) batches per epoch."""
    from hepml.models.streams import Tensor, batch_stream

    keras.utils.set_random_seed(seed)
    image = (None, shape[0], None, None) if config.crop else (None, *shape)  # crops and whole windows differ
    signature = (Tensor(image, "float32"), Tensor(image, "int32"), Tensor(image, "float32"))
    model = build_uresnet(shape[0], shape[1], shape[2], config)
    callbacks: list[Any] = [EpochProgress(progress)]
    if config.schedule == "cosine":
        callbacks.append(keras.callbacks.LearningRateScheduler(
            lambda epoch: config.learning_rate * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * epoch / config.epochs)))))
    history = model.fit(
        batch_stream(lambda: batches(False), signature, steps[0]),
        validation_data=batch_stream(lambda: batches(True), signature, steps[1]),
        epochs=config.epochs,
        shuffle=False,  # a stream is read in order (hepml.models.streams.Stream)
        callbacks=callbacks,
        verbose=0,
    )
    return model, {k: [float(v) for v in vals] for k, vals in history.history.items()}


def use_mixed_precision_if_gpu() -> bool:
    """Half-precision compute with float32 weights on a GPU (:func:`hepml.models.backend.mixed_policy`);
    plain float32 on CPUs."""
    if backend.accelerator():
        keras.mixed_precision.set_global_policy(backend.mixed_policy())
        return True
    return False
