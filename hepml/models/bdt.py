"""BDT baselines: scikit-learn's HistGradientBoostingClassifier (the TMVA-BDT role) and xgboost.

Both early-stop on the k-fold driver's validation events (never on the events they score) and are
saved in a format that runs no code when loaded: xgboost's own JSON, and skops for scikit-learn
(which has no format of its own besides pickle), loaded with only the tree type trusted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hepml.errors import BundleError, ConfigError
from hepml.features.symmetries import SymmetryColumns
from hepml.models.registry import SMALL_SAMPLE
from hepml.models.weights import equalise

__all__ = ["fit_fold_bdt", "fit_fold_xgb", "load_fold_bdt", "load_fold_xgb", "BaselineFold", "sized_params",
           "xgboost_available", "BDT_DEFAULTS", "XGB_DEFAULTS"]

BDT_DEFAULTS: dict[str, Any] = {"max_iter": 500, "learning_rate": 0.1, "max_leaf_nodes": 31, "min_samples_leaf": 20,
                                "n_iter_no_change": 10}
XGB_DEFAULTS: dict[str, Any] = {"n_estimators": 500, "max_depth": 6, "learning_rate": 0.1, "tree_method": "hist",
                                "min_child_weight": 1.0, "early_stopping_rounds": 10}
# the only type of a HistGradientBoostingClassifier that skops does not trust by default
_TRUSTED_SKOPS = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


def xgboost_available() -> bool:
    try:
        import xgboost  # noqa: F401
    except ImportError:
        return False
    return True


def sized_params(kind: str, params: dict[str, Any], n_train: int) -> dict[str, Any]:
    """The size rule, as the DNN's (:meth:`hepml.models.dense.DenseConfig.sized_for`): below
    :data:`~hepml.models.registry.SMALL_SAMPLE` training events, leaves must hold at least 0.2 % of them
    and trees are kept small (15 leaves, depth 4), so a tree cannot isolate a handful of events;
    ``size_rule: off`` uses the settings as given."""
    params = dict(params)
    if params.pop("size_rule", "auto") == "off" or n_train >= SMALL_SAMPLE:
        return params
    least = max(20, n_train // 500)
    if kind == "bdt":
        return {**params, "max_leaf_nodes": min(params["max_leaf_nodes"], 15),
                "min_samples_leaf": max(params["min_samples_leaf"], least)}
    return {**params, "max_depth": min(params["max_depth"], 4),
            "min_child_weight": max(params["min_child_weight"], float(least))}


def _balanced(w: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Class balancing as the DNN's (each class's weights sum to the same total).  Both libraries
    refuse negative weights (xgboost always; scikit-learn's binning above 200k events), so the
    baselines train on |w|, as TMVA users often do; evaluation keeps the signs."""
    return equalise(np.abs(np.asarray(w, np.float64)), y, total=len(w))


def _fit(kind: str, x: np.ndarray, y: np.ndarray, w: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
         w_val: np.ndarray, seed: int, params: dict[str, Any]) -> Any:
    """Fit on weighted events, early-stopping on the validation events when there are any."""
    stop = len(x_val) > 0
    validation = (x_val, y_val.astype(int), _balanced(w_val, y_val)) if stop else None
    extra: dict[str, Any]
    try:
        if kind == "bdt":
            from sklearn.ensemble import HistGradientBoostingClassifier

            model = HistGradientBoostingClassifier(random_state=seed, early_stopping=stop, **params)
            extra = dict(zip(("X_val", "y_val", "sample_weight_val"), validation or ()))
        else:
            import xgboost

            if not stop:
                params = {k: v for k, v in params.items() if k != "early_stopping_rounds"}
            model = xgboost.XGBClassifier(random_state=seed, n_jobs=0, eval_metric="logloss", **params)
            extra = {"eval_set": [validation[:2]], "sample_weight_eval_set": [validation[2]],
                     "verbose": False} if validation else {}
        return model.fit(x, y.astype(int), sample_weight=_balanced(w, y), **extra)
    except TypeError as err:  # an unknown setting, refused by the constructor
        raise ConfigError(f"{kind}: {' '.join(str(err).split())[:200]}; see the library's documentation") from None
    except ValueError as err:
        if type(err).__name__ != "InvalidParameterError":  # scikit-learn's refusal of a setting's value
            raise
        raise ConfigError(f"{kind}: {' '.join(str(err).split())[:200]}") from None


def _history(kind: str, model: Any) -> dict[str, list[float]]:
    """Training and validation loss per boosting iteration (what the DNN's history holds per epoch)."""
    if kind == "bdt":
        out = {"loss": [float(v) for v in getattr(model, "train_score_", [])]}
        if len(getattr(model, "validation_score_", [])):
            out["val_loss"] = [float(v) for v in model.validation_score_]
        # scikit-learn records the negative loss as its score
        return {k: [-v for v in vals] for k, vals in out.items() if vals}
    evals = model.evals_result() if hasattr(model, "evals_result_") else {}
    return {"val_loss": [float(v) for v in evals["validation_0"]["logloss"]]} if evals else {}


@dataclass
class BaselineFold:
    """A trained or reloaded fold baseline (:class:`hepml.models.registry.FittedFold`)."""

    model: Any
    files: list[str] = field(default_factory=list)
    history: dict[str, list[float]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_proba(x)[:, 1], np.float64)


def _fit_fold(kind: str, x: np.ndarray, y: np.ndarray, w: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
              w_val: np.ndarray, config: dict[str, Any], seed: int, folder: Path, fold: int) -> BaselineFold:
    defaults = BDT_DEFAULTS if kind == "bdt" else XGB_DEFAULTS
    params = sized_params(kind, {**defaults, **config}, len(x))
    fitted = _fit(kind, x, y, w, x_val, y_val, w_val, seed, params)
    name = f"fold{fold}.skops" if kind == "bdt" else f"fold{fold}.json"
    if kind == "bdt":
        import skops.io

        skops.io.dump(fitted, folder / name)
    else:
        fitted.save_model(folder / name)
    trees = int(fitted.n_iter_) if kind == "bdt" else int(fitted.get_booster().num_boosted_rounds())
    return BaselineFold(fitted, [name], _history(kind, fitted), {**params, "trees": trees})


def fit_fold_bdt(x: np.ndarray, y: np.ndarray, w: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                 w_val: np.ndarray, *, config: dict[str, Any], seed: int, folder: Path, fold: int,
                 symmetries: SymmetryColumns | None = None) -> BaselineFold:
    """Trees train on the events as given (``symmetries`` augment networks only)."""
    return _fit_fold("bdt", x, y, w, x_val, y_val, w_val, config, seed, folder, fold)


def fit_fold_xgb(x: np.ndarray, y: np.ndarray, w: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                 w_val: np.ndarray, *, config: dict[str, Any], seed: int, folder: Path, fold: int,
                 symmetries: SymmetryColumns | None = None) -> BaselineFold:
    """Trees train on the events as given (``symmetries`` augment networks only)."""
    return _fit_fold("xgb", x, y, w, x_val, y_val, w_val, config, seed, folder, fold)


def load_fold_bdt(file: Path) -> BaselineFold:
    """A scikit-learn fold read with skops, trusting only the tree type: a file holding anything
    else (a planted object) is refused before any of it is built."""
    import skops.io

    untrusted = [t for t in skops.io.get_untrusted_types(file=file) if t not in _TRUSTED_SKOPS]
    if untrusted:
        raise BundleError(f"{file}: holds types hepml does not trust ({', '.join(untrusted[:3])}); it was not "
                          "written by hepml's BDT training, retrain the bundle")
    return BaselineFold(skops.io.load(file, trusted=_TRUSTED_SKOPS))


def load_fold_xgb(file: Path) -> BaselineFold:
    """An xgboost fold from its own JSON format (no code is loaded)."""
    import xgboost

    model = xgboost.XGBClassifier()
    model.load_model(file)
    return BaselineFold(model)
