"""Which models hepml can train, by name, without importing any of them.

Each entry points at its fold-fitting function as ``"module:function"``, so listing the models
(``hepml train --help``, the workflow schema test) never imports TensorFlow.  To add a model:

1. write ``hepml/models/<name>.py`` with a ``fit_fold`` function of the :data:`FitFold` shape
   returning a :class:`FittedFold` (its ``files`` are saved in the fold folder);
2. add one :class:`ModelEntry` to :data:`MODELS` below;
3. add the name to ``higgs.models`` in ``workflows/schemas/config.schema.yaml`` (a test checks
   that the schema and this registry agree).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from hepml.errors import ConfigError

if TYPE_CHECKING:  # the registry is read by `hepml --help`: no numpy, no TensorFlow at import
    import numpy as np

__all__ = ["ModelEntry", "FittedFold", "FitFold", "MODELS", "get_model", "load_fit"]


class FittedFold(Protocol):
    """One fold's trained model: scores events, and names the files it saved in the fold folder."""

    files: list[str]
    history: dict[str, list[float]]

    def predict(self, x: np.ndarray) -> np.ndarray: ...


FitFold = Callable[..., FittedFold]
"""``fit_fold(x, y, w, x_val, y_val, w_val, *, config, seed, folder, fold) -> FittedFold``: train on
(x, y, w), early-stop on the validation events if the model does, save ``fold<fold>.*`` in ``folder``."""


@dataclass(frozen=True)
class ModelEntry:
    """A trainable model: its name, where its fold fit lives, and how bundles of it behave."""

    name: str
    fit: str                     # "module:function"
    description: str
    scores_files: bool           # its bundles can score ntuples (Keras networks); else out-of-fold scores only
    early_stopping: bool         # validation events held out for it; else they join the training events
    display: str = ""            # what figures call it
    colour: str = "black"        # one colour per model in every figure, whatever else is drawn
    gpu: bool = False            # its training wants a GPU (the workflow's resource request on a farm)


MODELS: dict[str, ModelEntry] = {
    "dnn": ModelEntry("dnn", "hepml.models.dense:fit_fold", "deep fully connected network (Keras)", True, True,
                      "DNN", "tab:blue", gpu=True),
    "bdt": ModelEntry("bdt", "hepml.models.bdt:fit_fold_bdt", "boosted decision trees (scikit-learn)", False, False,
                      "BDT", "tab:orange"),
    "xgb": ModelEntry("xgb", "hepml.models.bdt:fit_fold_xgb", "boosted decision trees (xgboost)", False, False,
                      "XGBoost", "tab:green"),
}


def get_model(name: str) -> ModelEntry:
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None


def load_fit(name: str) -> FitFold:
    """The fold-fitting function of model ``name`` (imports its module, e.g. TensorFlow for dnn)."""
    module, _, attr = get_model(name).fit.partition(":")
    fit: FitFold = getattr(importlib.import_module(module), attr)
    return fit
