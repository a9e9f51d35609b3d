"""Weighted ROC/AUC against scikit-learn, negative weights, ECE on hand-made cases, KS, rejection."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from hepml.metrics import (
    RankedScores,
    auc,
    bootstrap_auc,
    brier,
    confusion_matrix,
    ece,
    iou,
    ks_test,
    rejection_at,
    roc_curve,
)


def _sample(rng: np.random.Generator, n: int = 5000):
    y = rng.integers(0, 2, n)
    score = np.round(rng.normal(y * 0.8, 1.0), 2)  # rounded: many ties
    return y, score, rng.exponential(1.0, n)


def test_auc_matches_sklearn_with_weights(rng: np.random.Generator) -> None:
    y, s, w = _sample(rng)
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert auc(y, s, w) == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)


def test_roc_points_match_sklearn(rng: np.random.Generator) -> None:
    y, s, w = _sample(rng, 500)
    fpr, tpr, _ = sk_roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    roc = roc_curve(y, s, w)
    np.testing.assert_allclose(roc.eff_b, fpr, atol=1e-12)
    np.testing.assert_allclose(roc.eff_s, tpr, atol=1e-12)


def test_events_sorted_once_give_every_replica_its_own_roc(rng: np.random.Generator) -> None:
    """The bootstrap sorts each model's events once and reweights them: each replica's AUC and ROC
    must still be scikit-learn's for those weights, tied scores included."""
    y = rng.integers(0, 2, 5000)
    score = np.round(rng.normal(y * 0.7, 1.0), 1)  # many ties
    ranked = RankedScores.of(y, score)
    for _ in range(3):
        replica = rng.uniform(0.5, 2.0, len(y)) * rng.poisson(1.0, len(y))
        assert ranked.auc(replica) == pytest.approx(roc_auc_score(y, score, sample_weight=replica), abs=1e-12)
        fpr, tpr, _ = sk_roc_curve(y, score, sample_weight=replica, drop_intermediate=False)
        roc = ranked.roc(replica)  # scikit-learn drops the zero-weight events' repeated points first
        np.testing.assert_allclose(np.unique(np.c_[roc.eff_s, roc.eff_b].round(12), axis=0),
                                   np.unique(np.c_[tpr, fpr].round(12), axis=0), atol=1e-12)
        assert roc.rejection(0.5) == rejection_at(y, score, replica, 0.5)


def test_negative_weights_by_hand() -> None:
    # signal: scores 0.9 (w=2), 0.4 (w=-1) ; background: 0.6 (w=1), 0.1 (w=1)
    y = np.array([1, 1, 0, 0])
    s = np.array([0.9, 0.4, 0.6, 0.1])
    w = np.array([2.0, -1.0, 1.0, 1.0])
    # AUC = P(s_sig > s_bkg) with signed weights: pairs (0.9>0.6:2*1, 0.9>0.1:2*1, 0.4>0.6:0, 0.4>0.1:-1*1)
    expected = (2 + 2 + 0 - 1) / ((2 - 1) * (1 + 1))
    assert auc(y, s, w) == pytest.approx(expected)


def test_zero_weight_events_change_nothing(rng: np.random.Generator) -> None:
    y, s, w = _sample(rng, 1000)
    extra_y, extra_s = rng.integers(0, 2, 300), rng.normal(0, 1, 300)
    assert auc(np.r_[y, extra_y], np.r_[s, extra_s], np.r_[w, np.zeros(300)]) == pytest.approx(auc(y, s, w), abs=1e-12)


def test_rejection_at_efficiency() -> None:
    y = np.r_[np.ones(100), np.zeros(100)]
    s = np.r_[np.linspace(0.5, 1.0, 100), np.linspace(0.0, 0.6, 100)]
    assert rejection_at(y, s, None, 0.5) == float("inf")  # no background above 0.75
    # all signal (score >= 0.5) keeps the background above 0.5: 17 of 100 events (0.5 .. 0.6)
    assert rejection_at(y, s, None, 1.0) == pytest.approx(100 / np.count_nonzero(s[100:] >= 0.5))


def test_ece_hand_made_cases() -> None:
    y = np.array([1, 0] * 50)
    assert ece(y, np.full(100, 0.5)) == pytest.approx(0.0)
    assert ece(y, np.full(100, 0.7)) == pytest.approx(0.2)
    # two bins: p=0.1 with 1/10 positives (perfect) and p=0.9 with 5/10 positives (gap 0.4); half the weight each
    y = np.r_[np.eye(1, 10, 0).ravel(), np.ones(5), np.zeros(5)]
    p = np.r_[np.full(10, 0.1), np.full(10, 0.9)]
    assert ece(y, p) == pytest.approx(0.2)
    w = np.r_[np.ones(10), 3 * np.ones(10)]  # weights move the mass to the badly calibrated bin
    assert ece(y, p, w) == pytest.approx(0.75 * 0.4)


def test_brier() -> None:
    assert brier(np.array([1, 0]), np.array([0.8, 0.4])) == pytest.approx((0.04 + 0.16) / 2)


def test_ks_agrees_with_scipy_unweighted(rng: np.random.Generator) -> None:
    a, b = rng.normal(0, 1, 800), rng.normal(0.1, 1, 900)
    d, p = ks_test(a, b)
    ref = stats.ks_2samp(a, b, method="asymp")
    assert d == pytest.approx(ref.statistic, abs=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=0.05)


def test_bootstrap_uncertainty_scales(rng: np.random.Generator) -> None:
    y, s, w = _sample(rng, 4000)
    small = bootstrap_auc(y[:400], s[:400], w[:400], n=40)
    large = bootstrap_auc(y, s, w, n=40)
    assert 0 < large < small


def test_iou() -> None:
    confusion = confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 3)
    np.testing.assert_allclose(iou(confusion), [1.0, 0.5, 0.5])
    assert np.isnan(iou(confusion_matrix(np.array([0]), np.array([0]), 2))[1])


def test_paired_bootstrap_of_an_auc_difference() -> None:
    from hepml.metrics import bootstrap_auc, bootstrap_auc_difference

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 20000).astype(float)
    a = y + rng.normal(size=20000)
    b = a + 0.1 * rng.normal(size=20000)  # a slightly noisier copy: strongly correlated with a
    assert bootstrap_auc_difference(y, a, a) == 0.0
    paired = bootstrap_auc_difference(y, a, b)
    assert 0 < paired < 0.3 * np.hypot(bootstrap_auc(y, a), bootstrap_auc(y, b))
