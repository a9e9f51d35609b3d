"""Domain-adversarial training (Ganin et al., JMLR 2016) for hepml networks, in Keras 3.

A :class:`GradientReversal` layer (identity forward, -lambda times the gradient backward) joins
the feature extractor to a domain head.  The loss is the task loss on labelled source events plus
the domain loss on source and target events; both take per-event weights (Keras sample weights,
one set per output), so an event of weight zero changes nothing.  lambda and the learning rate
follow Ganin's schedules by default: lambda_p = 2 / (1 + exp(-gamma p)) - 1 and
mu_p = mu_0 / (1 + alpha p)^beta with gamma = 10, alpha = 10, beta = 0.75, p in [0, 1] the
training progress.  The saved task network contains no reversal layer: it reloads and scores with
plain Keras, no custom code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hepml.errors import ConfigError
from hepml.models import backend
from hepml.models.progress import EpochProgress

backend.configure()

import keras  # noqa: E402

from hepml.models.dense import DenseConfig, balance_weights, dense_trunk, peak_learning_rate  # noqa: E402
from hepml.models.weights import equalise  # noqa: E402
from hepml.settings import AT_LEAST_ONE, NON_NEGATIVE, Settings  # noqa: E402

__all__ = ["GradientReversal", "DannConfig", "DannSchedule", "dann_peak_rate", "lambda_schedule",
           "learning_rate_schedule", "build_dann_dense", "fit_dann_dense", "dann_arrays", "domain_weights",
           "build_dann_uresnet", "dann_image_batch", "fit_dann_uresnet"]


@keras.saving.register_keras_serializable(package="hepml")
class GradientReversal(keras.layers.Layer):
    """Identity forward; multiplies the incoming gradient by -lambda backward (on every Keras backend)."""

    def __init__(self, lambda_: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lambda_ = self.add_weight(shape=(), initializer=keras.initializers.Constant(float(lambda_)),
                                       trainable=False, name="lambda")

    def call(self, x: Any) -> Any:
        # backend-neutral: forward, the two stopped terms cancel exactly (x - x is 0) and leave x;
        # backward, only -lambda * x carries a gradient
        strength = keras.ops.cast(self.lambda_, x.dtype)
        held = keras.ops.stop_gradient(x)
        return held - strength * (x - held)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "lambda_": float(keras.ops.convert_to_numpy(self.lambda_))}


def lambda_schedule(p: float | np.ndarray, gamma: float = 10.0, lambda_max: float = 1.0) -> Any:
    """Ganin's ramp: 0 at the start of training, close to ``lambda_max`` at the end."""
    return lambda_max * (2.0 / (1.0 + np.exp(-gamma * np.asarray(p))) - 1.0)


def learning_rate_schedule(p: float | np.ndarray, mu0: float, alpha: float = 10.0, beta: float = 0.75) -> Any:
    return mu0 / (1.0 + alpha * np.asarray(p)) ** beta


@dataclass
class DannConfig(Settings):
    """Ganin's schedule constants and the domain head."""

    what = "dann"
    limits = {"gamma": NON_NEGATIVE, "lambda_max": NON_NEGATIVE, "alpha": NON_NEGATIVE, "beta": NON_NEGATIVE,
              "domain_units": AT_LEAST_ONE, "domain_weight": NON_NEGATIVE}

    gamma: float = 10.0
    lambda_max: float = 1.0
    alpha: float = 10.0
    beta: float = 0.75
    domain_units: int = 64
    domain_weight: float = 1.0
    warm_start: bool = False  # start the DANN network and the control from the trained source-only network


def dann_peak_rate(config: DenseConfig) -> float:
    """The rate Ganin's annealing starts from: the dense settings' peak (``batch_scaling``
    included, as for the source-only and oracle networks beside it).  Dense settings a DANN fit
    would silently not follow are refused: a warm-up or decay (the annealing owns the schedule)
    and ``augment`` (the study trains on its events as given)."""
    if config.warmup_epochs or config.decay != "none":
        raise ConfigError("dnn.warmup_epochs / dnn.decay: a DANN network's learning rate follows Ganin's annealing "
                          "(dann.alpha, dann.beta); remove them from the DANN study's dnn settings")
    if config.augment:
        raise ConfigError("dnn.augment: the DANN study trains its networks on the events as given (a shifted detector "
                          "is no symmetry of them); remove augment from the DANN study's dnn settings")
    return peak_learning_rate(config)


class DannSchedule(keras.callbacks.Callback):
    """Sets lambda and the learning rate before every batch; records them per epoch."""

    def __init__(
        self, grl: GradientReversal, config: DannConfig, mu0: float, steps_per_epoch: int, epochs: int
    ) -> None:
        super().__init__()
        self.grl, self.config, self.mu0 = grl, config, mu0
        self.total = max(1, steps_per_epoch * epochs)
        self.steps_per_epoch = steps_per_epoch
        self.epoch = 0
        self.log: dict[str, list[float]] = {"lambda": [], "learning_rate": []}

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        p = min(1.0, (self.epoch * self.steps_per_epoch + batch) / self.total)
        self.grl.lambda_.assign(float(lambda_schedule(p, self.config.gamma, self.config.lambda_max)))
        self.model.optimizer.learning_rate.assign(
            float(learning_rate_schedule(p, self.mu0, self.config.alpha, self.config.beta))
        )

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.log["lambda"].append(float(keras.ops.convert_to_numpy(self.grl.lambda_)))
        self.log["learning_rate"].append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


def build_dann_dense(
    n_inputs: int, config: DenseConfig, dann: DannConfig, x_adapt: np.ndarray
) -> tuple[keras.Model, keras.Model]:
    """(training model with outputs task and domain, task model): the domain head sits on the last
    hidden layer, behind the gradient reversal."""
    inputs = keras.Input((n_inputs,), name="features")
    x = dense_trunk(inputs, config, x_adapt)
    task = keras.layers.Dense(1, activation="sigmoid", name="task")(x)
    reversed_ = GradientReversal(0.0, name="gradient_reversal")(x)
    d = reversed_
    # normalised, so the extractor cannot fool the head by rescaling its features; per event (layer
    # norm, not batch norm), so that an event of weight zero still changes nothing
    for i in range(2):
        d = keras.layers.Dense(dann.domain_units, name=f"domain_hidden_{i}")(d)
        d = keras.layers.LayerNormalization(name=f"domain_norm_{i}")(d)
        d = keras.layers.Activation("relu", name=f"domain_relu_{i}")(d)
    domain = keras.layers.Dense(1, activation="sigmoid", name="domain")(d)
    model = keras.Model(inputs, {"task": task, "domain": domain}, name="hepml_dann")
    # losses are weighted means (sum w l / sum w): an event of weight zero changes nothing, and target
    # events (task weight 0) do not dilute the task loss
    loss = keras.losses.BinaryCrossentropy(reduction="mean_with_sample_weight")
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss={"task": loss, "domain": loss},
        loss_weights={"task": 1.0, "domain": dann.domain_weight},
    )
    task_model = keras.Model(inputs, task, name="hepml_dense")
    return model, task_model


def domain_weights(w_source: np.ndarray, w_target: np.ndarray) -> np.ndarray:
    """Each domain's weights sum to half the events: the domain classifier sees balanced domains."""
    domain = np.r_[np.zeros(len(w_source)), np.ones(len(w_target))]
    return equalise(np.r_[w_source, w_target], domain, total=len(domain), what="domain").astype(np.float32)


def dann_arrays(
    xs: np.ndarray, ys: np.ndarray, ws: np.ndarray, xt: np.ndarray, wt: np.ndarray, config: DenseConfig
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Inputs, targets and per-output weights: the task term sees source events only (target task
    weight 0), the domain term sees both, balanced.  Target labels are never an input here."""
    if np.sum(wt) == 0:
        raise ConfigError("dann: the target sample has zero total weight")
    x = np.concatenate([xs, xt]).astype(np.float32)
    y = {
        "task": np.concatenate([ys, np.zeros(len(xt))]).astype(np.float32)[:, None],
        "domain": np.concatenate([np.zeros(len(xs)), np.ones(len(xt))]).astype(np.float32)[:, None],
    }
    w = {
        "task": np.concatenate(
            [
                balance_weights(ys, ws, balance=config.balance_classes, negative=config.negative_weights),
                np.zeros(len(xt), np.float32),
            ]
        ),
        "domain": domain_weights(ws, wt),
    }
    return x, y, w


def fit_dann_dense(
    xs: np.ndarray,
    ys: np.ndarray,
    ws: np.ndarray,
    xt: np.ndarray,
    wt: np.ndarray,
    config: DenseConfig,
    dann: DannConfig,
    *,
    seed: int = 0,
    progress: str = "training",
    initial: keras.Model | None = None,
) -> tuple[keras.Model, keras.Model, dict[str, list[float]]]:
    """Train on labelled source (xs, ys, ws) and unlabelled target (xt, wt; no labels are read);
    ``initial``, a network of the same shape (the source-only one), gives the starting weights of
    the task network, standardisation included."""
    keras.utils.set_random_seed(seed)
    x, y, w = dann_arrays(xs, ys, ws, xt, wt, config)
    model, task_model = build_dann_dense(xs.shape[1], config, dann, x[w["domain"] != 0])
    if initial is not None:
        task_model.set_weights(initial.get_weights())
        for layer in task_model.layers:  # the standardisation reads its statistics only when finalised
            if isinstance(layer, keras.layers.Normalization):
                layer.finalize_state()
    steps = int(np.ceil(len(x) / config.batch_size))
    schedule = DannSchedule(model.get_layer("gradient_reversal"), dann, dann_peak_rate(config), steps, config.epochs)
    history = model.fit(
        x,
        y,
        sample_weight=w,
        batch_size=config.batch_size,
        epochs=config.epochs,
        shuffle=True,
        callbacks=[schedule, EpochProgress(progress)],
        verbose=0,
    )
    return model, task_model, _log(history, schedule)


def _log(history: Any, schedule: DannSchedule) -> dict[str, list[float]]:
    log = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    log.update(schedule.log)
    return log


def build_dann_uresnet(shape: tuple[int, ...], config: Any, dann: DannConfig) -> tuple[keras.Model, keras.Model]:
    """(training model with outputs task and domain, task model): the domain head reads the UResNet's
    bottleneck features (each plane's, after the planes are merged) through the gradient reversal,
    pools them over wires and ticks and gives one domain probability per plane image."""
    from hepml.models.uresnet import UnfoldPlanes, build_uresnet

    task_model = build_uresnet(shape[0], shape[1], shape[2], config)
    x = GradientReversal(0.0, name="gradient_reversal")(task_model.get_layer("bottleneck_out").output)
    # normalised inside the head: otherwise the extractor wins by inflating the bottleneck until
    # the head's sigmoid saturates (domain loss stuck far above ln 2, measured)
    x = keras.layers.Conv2D(dann.domain_units, 1, name="domain_conv")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, name="domain_bn")(x)
    x = keras.layers.Activation("relu", name="domain_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(keepdims=True, name="domain_pool")(x)
    x = keras.layers.Dense(dann.domain_units, activation="relu", name="domain_hidden")(x)
    x = keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="domain_probability")(x)
    domain = UnfoldPlanes(shape[0], name="domain")(x)  # (batch, planes, 1, 1, 1)
    model = keras.Model(task_model.inputs, {"task": task_model.outputs[0], "domain": domain}, name="uresnet_dann")
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss={
            "task": keras.losses.SparseCategoricalCrossentropy(reduction="mean_with_sample_weight"),
            "domain": keras.losses.BinaryCrossentropy(reduction="mean_with_sample_weight"),
        },
        loss_weights={"task": 1.0, "domain": dann.domain_weight},
    )
    return model, task_model


def dann_image_batch(
    charge_source: np.ndarray,
    labels_source: np.ndarray,
    pixel_weights_source: np.ndarray,
    charge_target: np.ndarray,
    w_source: np.ndarray | None = None,
    w_target: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One mixed batch: source images with labels and pixel weights, target images without labels
    (task weight 0); the domain term weights each event by its weight, the domains balanced."""
    ns, nt, planes = len(charge_source), len(charge_target), charge_source.shape[1]
    ws = np.ones(ns) if w_source is None else w_source
    wt = np.ones(nt) if w_target is None else w_target
    domain = np.concatenate([np.zeros(ns), np.ones(nt)]).astype(np.float32)
    x = np.concatenate([charge_source, charge_target])
    y = {
        "task": np.concatenate([labels_source, np.zeros((nt, *labels_source.shape[1:]), labels_source.dtype)]),
        "domain": np.broadcast_to(domain[:, None, None, None, None], (ns + nt, planes, 1, 1, 1)).copy(),
    }
    w = {
        "task": np.concatenate([pixel_weights_source, np.zeros((nt, *pixel_weights_source.shape[1:]), np.float32)]),
        "domain": np.broadcast_to(domain_weights(ws, wt)[:, None, None, None], (ns + nt, planes, 1, 1)).copy(),
    }
    return x, y, w


def fit_dann_uresnet(
    batches: Any,
    shape: tuple[int, ...],
    config: Any,
    dann: DannConfig,
    steps_per_epoch: int,
    validation_steps: int,
    *,
    seed: int = 0,
    progress: str = "training",
    initial: keras.Model | None = None,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Train from ``batches(validation)``, a factory of :func:`dann_image_batch` batches (that many
    per epoch, for training and for validation); returns the
    task network (no reversal layer, no domain head) and the history with lambda and learning rate.
    ``initial``, a UResNet of the same shape (the source-only one), gives the task network's starting
    weights, batch-norm statistics included."""
    from hepml.models.streams import Tensor, batch_stream

    keras.utils.set_random_seed(seed)
    image, planes = Tensor((None, *shape), "float32"), shape[0]
    signature = (
        image,
        {"task": Tensor((None, *shape), "int32"), "domain": Tensor((None, planes, 1, 1, 1), "float32")},
        {"task": image, "domain": Tensor((None, planes, 1, 1), "float32")},
    )
    model, task_model = build_dann_uresnet(shape, config, dann)
    if initial is not None:
        task_model.set_weights(initial.get_weights())
    schedule = DannSchedule(
        model.get_layer("gradient_reversal"), dann, config.learning_rate, steps_per_epoch, config.epochs
    )
    history = model.fit(
        batch_stream(lambda: batches(False), signature, steps_per_epoch),
        validation_data=batch_stream(lambda: batches(True), signature, validation_steps),
        epochs=config.epochs,
        shuffle=False,  # a stream is read in order (hepml.models.streams.Stream)
        callbacks=[schedule, EpochProgress(progress)],
        verbose=0,
    )
    return task_model, _log(history, schedule)
