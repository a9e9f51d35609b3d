"""BDT baselines: scikit-learn's HistGradientBoostingClassifier (the TMVA-BDT role) and xgboost."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hepml.errors import ConfigError
from hepml.models.weights import equalise

__all__ = ["fit_bdt", "fit_fold_bdt", "fit_fold_xgb", "BaselineFold", "xgboost_available", "BDT_DEFAULTS"]

BDT_DEFAULTS: dict[str, Any] = {"max_iter": 200, "learning_rate": 0.1, "max_leaf_nodes": 31,
                                "early_stopping": False}


def xgboost_available() -> bool:
    try:
        import xgboost  # noqa: F401
    except ImportError:
        return False
    return True


def fit_bdt(kind: str, x: np.ndarray, y: np.ndarray, w: np.ndarray, *, seed: int = 0,
            params: dict[str, Any] | None = None) -> Any:
    """Fit a baseline on weighted events (negative weights passed through) and return it.

    Class balancing matches the DNN's: each class's weights sum to the same total.  Both
    libraries refuse negative weights (xgboost always; scikit-learn's binning above 200k events),
    so the baselines train on |w|, as TMVA users often do; evaluation keeps the signs.
    """
    w = equalise(np.abs(np.asarray(w, np.float64)), y, total=len(w))
    if kind not in ("bdt", "xgb"):
        raise ConfigError(f"unknown baseline {kind!r}; choose bdt or xgb")
    try:
        if kind == "bdt":
            from sklearn.ensemble import HistGradientBoostingClassifier

            model = HistGradientBoostingClassifier(random_state=seed, **{**BDT_DEFAULTS, **(params or {})})
        else:
            import xgboost

            defaults = {"n_estimators": 300, "max_depth": 6, "learning_rate": 0.1, "tree_method": "hist"}
            model = xgboost.XGBClassifier(random_state=seed, n_jobs=0, **{**defaults, **(params or {})})
        return model.fit(x, y.astype(int), sample_weight=w)
    except TypeError as err:  # an unknown setting, refused by the constructor
        raise ConfigError(f"{kind}: {' '.join(str(err).split())[:200]}; see the library's documentation") from None
    except ValueError as err:
        if type(err).__name__ != "InvalidParameterError":  # scikit-learn's refusal of a setting's value
            raise
        raise ConfigError(f"{kind}: {' '.join(str(err).split())[:200]}") from None


@dataclass
class BaselineFold:
    """A trained fold baseline (:class:`hepml.models.registry.FittedFold`)."""

    model: Any
    files: list[str]
    history: dict[str, list[float]] = field(default_factory=dict)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_proba(x)[:, 1], np.float64)


def _fit_fold(kind: str, x: np.ndarray, y: np.ndarray, w: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
              w_val: np.ndarray, config: dict[str, Any], seed: int, folder: Path, fold: int) -> BaselineFold:
    """Baselines do not early-stop: the k-fold driver gives them the validation events to train on
    (``early_stopping=False`` in the registry), so ``x_val`` is empty here."""
    fitted = fit_bdt(kind, x, y, w, seed=seed, params=config)
    files = []
    if kind == "xgb":  # xgboost's own JSON format: kept for users, not loaded by hepml
        fitted.save_model(folder / f"fold{fold}.json")
        files.append(f"fold{fold}.json")
    return BaselineFold(fitted, files)


def fit_fold_bdt(x: np.ndarray, y: np.ndarray, w: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                 w_val: np.ndarray, *, config: dict[str, Any], seed: int, folder: Path, fold: int) -> BaselineFold:
    return _fit_fold("bdt", x, y, w, x_val, y_val, w_val, config, seed, folder, fold)


def fit_fold_xgb(x: np.ndarray, y: np.ndarray, w: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                 w_val: np.ndarray, *, config: dict[str, Any], seed: int, folder: Path, fold: int) -> BaselineFold:
    return _fit_fold("xgb", x, y, w, x_val, y_val, w_val, config, seed, folder, fold)
