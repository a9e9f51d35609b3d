"""Calibration: each method fixes a deliberately miscalibrated model; JSON round trip; weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hepml.calibration import METHODS, calibrator_from_dict, make_calibrator
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
