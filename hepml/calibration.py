"""Score calibration: temperature scaling, Platt scaling and isotonic regression.

Calibrators follow scikit-learn's conventions (parameters in ``__init__``, ``fit(scores, y,
sample_weight=None)`` returns ``self``, fitted attributes end in ``_``) and are stored as JSON,
never pickle.  They act on a classifier's probability ``s`` through its logit, so they can be
chained after any network.  Negative event weights are allowed where the method allows them:
temperature and Platt minimise the weighted log-loss as given; isotonic regression needs
non-negative weights, so negative ones are set to zero for it (documented, not hidden).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import optimize

__all__ = ["Calibrator", "TemperatureScaling", "PlattScaling", "IsotonicCalibration", "make_calibrator",
           "calibrator_from_dict", "METHODS"]

_EPS = 1e-7


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _check(scores: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> tuple[np.ndarray, ...]:
    scores, y = np.asarray(scores, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    w = np.ones_like(scores) if sample_weight is None else np.asarray(sample_weight, np.float64).ravel()
    if not (len(scores) == len(y) == len(w)):
        raise ValueError(
            f"calibration: scores ({len(scores)}), labels ({len(y)}) and weights ({len(w)}) differ in length"
        )
    if len(scores) == 0:
        raise ValueError("calibration: no events to fit on")
    if not np.all(np.isfinite(scores)):
        raise ValueError("calibration: scores contain NaN or inf")
    return scores, y, w


class Calibrator:
    """Base: maps uncalibrated probabilities to calibrated ones."""

    method = "identity"

    def fit(self, scores: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> Calibrator:
        raise NotImplementedError

    def predict(self, scores: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError


def _weighted_logloss(z: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    # log(1 + e^-z) for y=1, log(1 + e^z) for y=0, computed stably
    return float(np.sum(w * (np.logaddexp(0.0, -z) * y + np.logaddexp(0.0, z) * (1 - y))) / np.sum(np.abs(w)))


class TemperatureScaling(Calibrator):
    """p = sigmoid(logit(s) / T): one parameter, keeps the ranking (and so the ROC) unchanged."""

    method = "temperature"

    def fit(self, scores: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> TemperatureScaling:
        s, y, w = _check(scores, y, sample_weight)
        z = _logit(s)
        result = optimize.minimize_scalar(
            lambda log_t: _weighted_logloss(z / np.exp(log_t), y, w), bounds=(-5, 5), method="bounded"
        )
        self.temperature_ = float(np.exp(result.x))
        return self

    def predict(self, scores: np.ndarray) -> np.ndarray:
        return _sigmoid(_logit(scores) / self.temperature_)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "temperature": self.temperature_}


class PlattScaling(Calibrator):
    """p = sigmoid(a logit(s) + b) (Platt 1999), fitted by weighted maximum likelihood."""

    method = "platt"

    def fit(self, scores: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> PlattScaling:
        s, y, w = _check(scores, y, sample_weight)
        z = _logit(s)

        def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
            a, b = params
            t = a * z + b
            p = _sigmoid(t)
            norm = np.sum(np.abs(w))
            grad_t = w * (p - y) / norm
            return _weighted_logloss(t, y, w), np.array([np.sum(grad_t * z), np.sum(grad_t)])

        result = optimize.minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
        self.a_, self.b_ = (float(v) for v in result.x)
        return self

    def predict(self, scores: np.ndarray) -> np.ndarray:
        return _sigmoid(self.a_ * _logit(scores) + self.b_)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "a": self.a_, "b": self.b_}


class IsotonicCalibration(Calibrator):
    """Monotone, non-parametric (Zadrozny and Elkan 2002); stored as interpolation knots."""

    method = "isotonic"

    def fit(self, scores: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> IsotonicCalibration:
        from sklearn.isotonic import IsotonicRegression

        s, y, w = _check(scores, y, sample_weight)
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(s, y, sample_weight=np.clip(w, 0.0, None))
        self.x_ = np.asarray(iso.X_thresholds_, np.float64)
        self.y_ = np.asarray(iso.y_thresholds_, np.float64)
        return self

    def predict(self, scores: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(scores, np.float64), self.x_, self.y_)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "x": self.x_.tolist(), "y": self.y_.tolist()}


class Identity(Calibrator):
    method = "none"

    def fit(self, scores: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> Identity:
        return self

    def predict(self, scores: np.ndarray) -> np.ndarray:
        return np.asarray(scores, np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method}


METHODS: dict[str, type[Calibrator]] = {
    "temperature": TemperatureScaling,
    "platt": PlattScaling,
    "isotonic": IsotonicCalibration,
    "none": Identity,
}


def make_calibrator(method: str) -> Calibrator:
    try:
        return METHODS[method]()
    except KeyError:
        raise ValueError(f"unknown calibration method {method!r}; choose one of {', '.join(METHODS)}") from None


def calibrator_from_dict(data: dict[str, Any]) -> Calibrator:
    """Rebuild a fitted calibrator from its JSON form, refusing parameters that would give wrong
    probabilities: non-finite numbers, a temperature <= 0, isotonic knots out of order or outside [0, 1]."""
    if not isinstance(data, dict):
        raise ValueError("calibration: not a JSON object")
    cal = make_calibrator(str(data.get("method")))
    if isinstance(cal, TemperatureScaling):
        cal.temperature_ = _parameter(data, "temperature")
        if cal.temperature_ <= 0:
            raise ValueError(f"key 'temperature' is {cal.temperature_}, it must be > 0")
    elif isinstance(cal, PlattScaling):
        cal.a_, cal.b_ = _parameter(data, "a"), _parameter(data, "b")
    elif isinstance(cal, IsotonicCalibration):
        cal.x_, cal.y_ = _knots(data, "x"), _knots(data, "y")
        if len(cal.x_) != len(cal.y_) or len(cal.x_) == 0:
            raise ValueError(f"keys 'x' and 'y' hold {len(cal.x_)} and {len(cal.y_)} knots; they must be equal and > 0")
        if np.any(np.diff(cal.x_) < 0) or np.any(np.diff(cal.y_) < 0):
            raise ValueError("isotonic knots 'x' and 'y' must be non-decreasing")
        if cal.y_.min() < 0 or cal.y_.max() > 1:
            raise ValueError("isotonic key 'y' holds values outside [0, 1]")
    return cal


def _parameter(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ValueError(f"key {key!r} is {value!r}, not a finite number")
    return float(value)


def _knots(data: dict[str, Any], key: str) -> np.ndarray:
    values = data.get(key)
    if not isinstance(values, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ValueError(f"key {key!r} is not a list of numbers")
    array = np.asarray(values, np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"key {key!r} holds a non-finite value")
    return array
