"""Which models hepml can train, by name, without importing any of them.

Each entry points at its fold-fitting function and its loader as ``"module:function"``, so listing
the models (``hepml train --help``, the workflow schema test) never imports TensorFlow.  Every model
scores the same way: the Scorer, write-back, calibration, ``reference:`` and the leak check only
see :class:`Predictor` objects.  To add a model:

1. write ``hepml/models/<name>.py`` with a ``fit_fold`` function of the :data:`FitFold` shape
   returning a :class:`FittedFold` (its ``files`` are saved in the fold folder; the one ending in
   the entry's ``suffix`` is the fold's model, in a format that runs no code when loaded), and a
   loader of the :data:`LoadFold` shape that reads that file back;
2. add one :class:`ModelEntry` to :data:`MODELS` below;
3. add the name to ``higgs.models`` in ``workflows/schemas/config.schema.yaml`` (a test checks
   that the schema and this registry agree).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from hepml.errors import ConfigError

if TYPE_CHECKING:  # the registry is read by `hepml --help`: no numpy, no TensorFlow at import
    from pathlib import Path

    import numpy as np

__all__ = ["ModelEntry", "Predictor", "FittedFold", "FitFold", "LoadFold", "MODELS", "SMALL_SAMPLE", "get_model",
           "load_fit", "load_loader"]


class Predictor(Protocol):
    """A fold model as scoring sees it: features in, uncalibrated signal probability out."""

    def predict(self, x: np.ndarray) -> np.ndarray: ...


class FittedFold(Predictor, Protocol):
    """One fold's trained model: scores events, and names the files it saved in the fold folder."""

    files: list[str]
    history: dict[str, list[float]]


SMALL_SAMPLE = 100_000
"""Below this many training events every model's size rule shrinks its capacity (``size_rule: auto``)."""

FitFold = Callable[..., FittedFold]
"""``fit_fold(x, y, w, x_val, y_val, w_val, *, config, seed, folder, fold, symmetries) -> FittedFold``: train
on (x, y, w), early-stop on the validation events if the model does, save ``fold<fold>.*`` in ``folder``;
``symmetries`` (:class:`hepml.features.symmetries.SymmetryColumns` or None) are the columns the feature
spec's symmetries act on, for a model that trains on transformed events."""

LoadFold = Callable[["Path"], Predictor]
"""``load_fold(file) -> Predictor``: read back a fold model saved by ``fit_fold`` (the file is
already verified against the bundle's integrity record)."""


@dataclass(frozen=True)
class ModelEntry:
    """A trainable model: its name, where its fold fit lives, and how bundles of it behave."""

    name: str
    fit: str                     # "module:function" of its FitFold
    load: str                    # "module:function" of its LoadFold
    suffix: str                  # the fold model's file format, e.g. ".keras"
    description: str
    early_stopping: bool         # validation events held out for it; else they join the training events
    display: str = ""            # what figures call it
    colour: str = "black"        # one colour per model in every figure, whatever else is drawn
    gpu: bool = False            # its training wants a GPU (the workflow's resource request on a farm)
    remedy: str = ""             # what to change when the overtraining check flags it


MODELS: dict[str, ModelEntry] = {
    "dnn": ModelEntry("dnn", "hepml.models.dense:fit_fold", "hepml.models.dense:load_fold", ".keras",
                      "deep fully connected network (Keras)", True, "DNN", "tab:blue", gpu=True,
                      remedy="raise dropout or l2, or lower units or layers (dnn: in the config); early stopping "
                             "already keeps the best epoch, so a lower patience rarely helps"),
    "bdt": ModelEntry("bdt", "hepml.models.bdt:fit_fold_bdt", "hepml.models.bdt:load_fold_bdt", ".skops",
                      "boosted decision trees (scikit-learn)", True, "BDT", "tab:orange",
                      remedy="raise min_samples_leaf or l2_regularization, or lower max_leaf_nodes or learning_rate "
                             "(bdt: in the config)"),
    "xgb": ModelEntry("xgb", "hepml.models.bdt:fit_fold_xgb", "hepml.models.bdt:load_fold_xgb", ".json",
                      "boosted decision trees (xgboost)", True, "XGBoost", "tab:green",
                      remedy="raise min_child_weight or reg_lambda, or lower max_depth or learning_rate "
                             "(xgb: in the config)"),
}


def get_model(name: str) -> ModelEntry:
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None


def _function(where: str) -> Any:
    module, _, attr = where.partition(":")
    return getattr(importlib.import_module(module), attr)


def load_fit(name: str) -> FitFold:
    """The fold-fitting function of model ``name`` (imports its module, e.g. TensorFlow for dnn)."""
    fit: FitFold = _function(get_model(name).fit)
    return fit


def load_loader(name: str) -> LoadFold:
    """The function that reads model ``name``'s saved fold back for scoring."""
    load: LoadFold = _function(get_model(name).load)
    return load
