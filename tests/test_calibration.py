"""Calibration: each method fixes a deliberately miscalibrated model; JSON round trip; weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hepml.calibration import METHODS, calibrator_from_dict, make_calibrator, parse_prior, prior_weights
from hepml.metrics import auc, ece


def _miscalibrated(rng: np.random.Generator, n: int = 40000, shift: float = 1.0):
    """True probabilities p; the 'model' reports an overconfident, shifted sigmoid(3 logit(p) + shift)."""
    p = rng.beta(2, 2, n)
    y = (rng.random(n) < p).astype(float)
    logit = np.log(p / (1 - p))
    return 1 / (1 + np.exp(-(3 * logit + shift))), y


@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic"])
def test_calibration_lowers_ece(method: str, rng: np.random.Generator) -> None:
    # temperature scaling has one parameter: it fixes overconfidence, not a shift
    s, y = _miscalibrated(rng, shift=0.0 if method == "temperature" else 1.0)
    fit_s, fit_y, test_s, test_y = s[:20000], y[:20000], s[20000:], y[20000:]
    before = ece(test_y, test_s)
    cal = make_calibrator(method).fit(fit_s, fit_y)
    after = ece(test_y, cal.predict(test_s))
    assert before > 0.08
    assert after < 0.02


def test_platt_recovers_known_parameters(rng: np.random.Generator) -> None:
    s, y = _miscalibrated(rng, 200000)
    cal = make_calibrator("platt").fit(s, y)
    # logit(s) = 3 logit(p) + 1, so the exact inverse is a = 1/3, b = -1/3
    assert cal.a_ == pytest.approx(1 / 3, abs=0.02)
    assert cal.b_ == pytest.approx(-1 / 3, abs=0.03)


def test_temperature_keeps_the_ranking(rng: np.random.Generator) -> None:
    s, y = _miscalibrated(rng, 5000)
    cal = make_calibrator("temperature").fit(s, y)
    assert auc(y, cal.predict(s)) == pytest.approx(auc(y, s), abs=1e-12)


@pytest.mark.parametrize("method", list(METHODS))
def test_json_round_trip(method: str, rng: np.random.Generator) -> None:
    s, y = _miscalibrated(rng, 3000)
    cal = make_calibrator(method).fit(s, y)
    again = calibrator_from_dict(json.loads(json.dumps(cal.to_dict())))
    np.testing.assert_array_equal(again.predict(s), cal.predict(s))


@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic"])
def test_negative_and_zero_weights(method: str, rng: np.random.Generator) -> None:
    s, y = _miscalibrated(rng, 20000)
    w = np.where(rng.random(20000) < 0.05, -1.0, 1.0)
    cal = make_calibrator(method).fit(s, y, sample_weight=w)
    assert np.all(np.isfinite(cal.predict(s)))
    # events with zero weight do not move the fit
    junk_s, junk_y = rng.random(500), rng.integers(0, 2, 500).astype(float)
    a = make_calibrator(method).fit(s, y, w).predict(s)
    b = make_calibrator(method).fit(np.r_[s, junk_s], np.r_[y, junk_y], np.r_[w, np.zeros(500)]).predict(s)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_bad_input_messages() -> None:
    with pytest.raises(ValueError, match="unknown calibration method 'beta'"):
        make_calibrator("beta")
    with pytest.raises(ValueError, match="differ in length"):
        make_calibrator("platt").fit(np.array([0.1, 0.2]), np.array([1.0]))


def _physics_weighted(rng: np.random.Generator, n: int = 60000) -> tuple[np.ndarray, ...]:
    """Equal numbers of signal and background events whose cross-section weights differ 1000x; the
    network output s is the balanced posterior sigmoid(3x) of x ~ N(+-1, 1)."""
    y = (rng.random(n) < 0.5).astype(float)
    x = rng.normal(size=n) + np.where(y == 1, 1.0, -1.0)
    w = np.where(y == 1, 0.002, 2.0) * rng.uniform(0.5, 1.5, n)
    return 1 / (1 + np.exp(-2 * x)), y, w


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_balanced_prior_with_weights_1000x_apart(method: str, rng: np.random.Generator) -> None:
    s, y, w = _physics_weighted(rng)
    fit, test = slice(0, 30000), slice(30000, None)
    balanced = make_calibrator(method).fit(s[fit], y[fit], prior_weights(y[fit], w[fit], "balanced"))
    p = balanced.predict(s[test])
    assert ece(y[test], p, prior_weights(y[test], w[test], "balanced")) <= 0.01
    assert not np.any(p >= 1.0) and not np.any(p <= 0.0)
    assert np.median(p[y[test] == 1]) > 0.8  # a usable discriminant scale
    # the absolute posterior of the weighted mixture: what 'weighted' is for, and why it is not the default
    absolute = make_calibrator(method).fit(s[fit], y[fit], prior_weights(y[fit], w[fit], "weighted")).predict(s[test])
    assert np.median(absolute[y[test] == 1]) < 0.01
    assert ece(y[test], absolute, w[test]) <= 0.01


def test_a_signal_fraction_prior_shifts_the_logit_by_its_log_odds(rng: np.random.Generator) -> None:
    """Known case: s is the balanced posterior, so under prior f Platt must find a = 1, b = log(f / (1 - f))."""
    s, y, w = _physics_weighted(rng, 200000)
    cal = make_calibrator("platt").fit(s, y, prior_weights(y, w, 0.2))
    assert cal.a_ == pytest.approx(1.0, abs=0.02)
    assert cal.b_ == pytest.approx(np.log(0.2 / 0.8), abs=0.03)


def test_isotonic_has_no_plateau_from_a_handful_of_pure_events(rng: np.random.Generator) -> None:
    s, y = _miscalibrated(rng, 20000, shift=0.0)
    top = np.linspace(0.9990, 0.9999, 8)  # eight signal events above every other score
    s, y = np.r_[np.minimum(s, 0.99), top], np.r_[y, np.ones(8)]
    plain = __import__("sklearn.isotonic", fromlist=["IsotonicRegression"]).IsotonicRegression(
        y_min=0, y_max=1, out_of_bounds="clip").fit(s, y)
    assert plain.predict(top).min() == 1.0  # what plain isotonic regression does
    cal = make_calibrator("isotonic").fit(s, y)
    scores = cal.predict(np.r_[s, 1.0])
    assert scores.max() < 1.0 and scores.min() > 0.0
    assert len(cal.x_) <= 200  # blocks of at least 0.5 % of the weight
    assert ece(y, cal.predict(s)) < 0.02


def test_prior_errors_name_the_problem() -> None:
    y, w = np.array([0.0, 1.0, 1.0]), np.array([1.0, 1.0, -1.0])
    with pytest.raises(ValueError, match="signal events' weights sum to 0"):
        prior_weights(y, w)
    for bad in ("flat", 0.0, 1.0, 1.5, True):
        with pytest.raises(ValueError, match="choose balanced, weighted or a signal fraction"):
            parse_prior(bad)
    assert parse_prior("0.3") == 0.3
    signed = prior_weights(np.array([0.0, 1.0, 1.0]), np.array([2.0, 3.0, -1.0]))
    assert signed[2] < 0 and signed[1] + signed[2] == pytest.approx(signed[0])  # class totals equal, signs kept
