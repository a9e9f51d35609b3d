"""Score calibration: temperature scaling, Platt scaling and isotonic regression.

Calibrators follow scikit-learn's conventions (parameters in ``__init__``, ``fit(scores, y,
sample_weight=None)`` returns ``self``, fitted attributes end in ``_``) and are stored as JSON,
never pickle.  They act on a classifier's probability ``s`` through its logit, so they can be
chained after any network.  Negative event weights are allowed where the method allows them:
temperature and Platt minimise the weighted log-loss as given; isotonic regression needs
non-negative weights, so negative ones are set to zero for it (documented, not hidden).

Which posterior?  With physics weights (cross sections differing 1000x between the classes) the
weighted fit returns the *absolute* posterior of the weighted mixture: signal scores near 0,
useless as a discriminant scale.  :func:`prior_weights` sets the convention: ``balanced`` (the
default; each class carries the same total weight, as the networks see them in training),
``weighted`` (the absolute posterior) or a signal fraction ``f``.  Evaluation (ECE, reliability)
uses the same convention.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import optimize

from hepml.errors import ConfigError, EmptyInputError

__all__ = ["Calibrator", "TemperatureScaling", "PlattScaling", "IsotonicCalibration", "make_calibrator",
           "calibrator_from_dict", "METHODS", "PRIORS", "parse_prior", "prior_weights"]

PRIORS = ("balanced", "weighted")  # or a signal fraction in (0, 1)

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
        raise EmptyInputError("calibration: no events to fit on")
    if not np.all(np.isfinite(scores)):
        raise ValueError("calibration: scores contain NaN or inf")
    return scores, y, w


def parse_prior(value: str | float) -> str | float:
    """``balanced``, ``weighted`` or a signal fraction strictly between 0 and 1."""
    if isinstance(value, str) and value in PRIORS:
        return value
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        fraction = float("nan")
    if isinstance(value, bool) or not 0.0 < fraction < 1.0:
        raise ConfigError(f"calibration prior {value!r}: choose balanced, weighted or a signal fraction in (0, 1)")
    return fraction


def prior_weights(y: np.ndarray, w: np.ndarray, prior: str | float = "balanced") -> np.ndarray:
    """The event weights that make a calibrated score the posterior under ``prior``: each class
    rescaled so that signal carries the fraction ``f`` of the total (``balanced``: f = 1/2);
    ``weighted`` returns the physics weights unchanged.  Negative weights keep their sign."""
    prior = parse_prior(prior)
    y, w = np.asarray(y, np.float64), np.asarray(w, np.float64)
    if prior == "weighted":
        return w
    fraction = 0.5 if prior == "balanced" else float(prior)
    totals = {label: float(np.sum(w[y == label])) for label in (0.0, 1.0)}
    for label, total in totals.items():
        if not total > 0:
            raise ConfigError(f"calibration: the {'signal' if label else 'background'} events' weights sum to "
                             f"{total:g}; a class needs a positive total weight to set the prior")
    scale = np.where(y == 1.0, fraction / totals[1.0], (1.0 - fraction) / totals[0.0])
    return w * scale * len(w)  # mean |weight| near 1: the optimisers' tolerances stay meaningful


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
    """Monotone, non-parametric (Zadrozny and Elkan 2002), robust where events are few.

    Plain isotonic regression turns the last handful of pure-signal events into a plateau at
    exactly 1 (and the first pure-background ones into one at 0).  Here the isotonic blocks are
    merged until each holds ``min_fraction`` of the weight and ``min_events`` events, each block's
    value counts half a pseudo-event of each class, and the map interpolates linearly between the
    blocks' mean scores (centred isotonic regression, Oron and Flournoy 2017).
    """

    method = "isotonic"

    def __init__(self, min_fraction: float = 0.005, min_events: int = 50) -> None:
        self.min_fraction = min_fraction
        self.min_events = min_events

    def fit(self, scores: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> IsotonicCalibration:
        from sklearn.isotonic import IsotonicRegression

        s, y, w = _check(scores, y, sample_weight)
        keep = w > 0  # isotonic regression needs non-negative weights (module docstring)
        order = np.argsort(s[keep], kind="stable")
        s, y, w = s[keep][order], y[keep][order], w[keep][order]
        if len(s) == 0:
            raise EmptyInputError("calibration: no event with a positive weight to fit on")
        fitted = IsotonicRegression(y_min=0.0, y_max=1.0).fit_transform(s, y, sample_weight=w)
        groups = self._groups(np.flatnonzero(np.r_[True, np.diff(fitted) != 0]), w)
        sums = [(np.sum(w[a:b]), np.sum(w[a:b] * s[a:b]), np.sum(w[a:b] * y[a:b]), b - a) for a, b in groups]
        self.x_ = np.array([ws / wt for wt, ws, _, _ in sums])
        self.y_ = np.maximum.accumulate(np.array([(wy + 0.5 * wt / n) / (wt + wt / n) for wt, _, wy, n in sums]))
        return self

    def _groups(self, starts: np.ndarray, w: np.ndarray) -> list[tuple[int, int]]:
        """Runs of consecutive isotonic blocks, each with enough weight and events."""
        need, cumulative = self.min_fraction * float(np.sum(w)), np.r_[0.0, np.cumsum(w)]
        groups: list[tuple[int, int]] = []
        begin = 0
        for stop in [*starts[1:], len(w)]:
            if cumulative[stop] - cumulative[begin] >= need and stop - begin >= self.min_events:
                groups.append((begin, int(stop)))
                begin = int(stop)
        if begin < len(w):  # the remainder joins the last full group
            groups[-1:] = [(groups[-1][0] if groups else begin, len(w))]
        return groups

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
        raise ConfigError(f"unknown calibration method {method!r}; choose one of {', '.join(METHODS)}") from None


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
