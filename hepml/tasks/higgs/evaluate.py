"""Evaluate trained bundles from their saved out-of-fold scores: AUC table, calibration, rejection, KS.

Everything here reads files the training wrote (``oof.root``, ``overtraining.npz``), so the numbers
and the plots can be remade without retraining.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from hepml.bundle import bundle_file, read_info, write_json
from hepml.calibration import prior_weights
from hepml.errors import ConfigError
from hepml.io.atomic import atomic_path
from hepml.metrics import RankedScores, Roc, brier, ece, ks_test
from hepml.models.registry import get_model
from hepml.split import CALIBRATION

__all__ = ["BundleScores", "load_scores", "evaluate", "overtraining", "ks_summary", "train_test_ks", "compared_events",
           "EFFICIENCIES", "OVERTRAINING_P", "OVERTRAINING_EVENTS"]

EFFICIENCIES = (0.5, 0.7, 0.9)


@dataclass
class BundleScores:
    """Out-of-fold scores of one bundle, restricted to events not used by the calibrator."""

    name: str
    model: str
    featureset: str
    score: np.ndarray
    raw: np.ndarray
    label: np.ndarray
    weight: np.ndarray
    fold: np.ndarray
    path: Path
    prior: str | float = "weighted"
    losses: dict[str, dict[str, float]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # bundle.json, verified

    @property
    def calibration_weight(self) -> np.ndarray:
        """The weights under the bundle's calibration prior: what its calibrated score is the
        posterior of, so ECE and the reliability diagram judge it by its own convention."""
        return prior_weights(self.label, self.weight, self.prior)

    def training_scores(self) -> dict[str, np.ndarray] | None:
        """The fold-0 model's scores, labels and weights on its own training events (None in
        bundles from before the overtraining check)."""
        if "overtraining.npz" not in self.info["integrity"]["files"]:
            return None
        with np.load(bundle_file(self.path, self.info, "overtraining.npz"), allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    @cached_property
    def overtraining_check(self) -> dict[str, Any]:
        """:func:`overtraining` of this bundle, computed once (metrics.json and the scores figure)."""
        return overtraining(self)


def load_scores(path: str | os.PathLike[str]) -> BundleScores:
    """A bundle's out-of-fold scores; its name is ``MODEL_FEATURESET`` (the folder name)."""
    folder = Path(path)
    info = read_info(folder)
    with uproot.open(bundle_file(folder, info, "oof.root")) as f:
        arrays = f["oof"].arrays(["score", "score_raw", "label", "weight", "fold", "role"], library="np")
    keep = arrays["role"] != CALIBRATION
    model, _, featureset = folder.name.partition("_")
    return BundleScores(folder.name, info["model"], featureset or "all", arrays["score"][keep].astype(np.float64),
                        arrays["score_raw"][keep].astype(np.float64), arrays["label"][keep],
                        arrays["weight"][keep].astype(np.float64), arrays["fold"][keep], folder,
                        info.get("calibration_prior", "weighted"),  # bundles before the prior: physics weights
                        info.get("losses", {}), info)


def evaluate(bundles: list[str], out: str | os.PathLike[str], *, reference: str | None = None,
             bootstrap: int = 30) -> dict[str, Any]:
    """Metrics of every bundle into ``out`` (JSON): ``auc.<model>.<featureset>`` and, for the
    reference bundle, calibration (ECE before/after, Brier), rejection at fixed efficiency and KS."""
    scores = [load_scores(b) for b in bundles]
    if not scores:
        raise ConfigError("evaluate: no bundles given")
    ref = next((s for s in scores if s.name == reference), scores[0]) if reference else scores[0]
    if reference and ref.name != reference:
        raise ConfigError(f"evaluate: reference bundle {reference!r} is not among {', '.join(s.name for s in scores)}")
    metrics: dict[str, Any] = {"auc": {}, "auc_uncertainty": {}, "reference": ref.name, "events": {}}
    rocs: dict[str, Roc] = {}
    for s in scores:
        ranked = RankedScores.of(s.label, s.raw)  # one sort of the events each, for AUC, replicas and rejection
        rocs[s.name] = ranked.roc(s.weight)
        metrics["auc"].setdefault(s.model, {})[s.featureset] = rocs[s.name].auc()
        metrics["auc_uncertainty"].setdefault(s.model, {})[s.featureset] = ranked.bootstrap_auc(s.weight, n=bootstrap)
        metrics["events"][s.name] = int(len(s.label))
    cw = ref.calibration_weight
    metrics["calibration_prior"] = ref.prior  # ECE and Brier use the weights of this prior
    metrics["ece"] = {"uncalibrated": ece(ref.label, ref.raw, cw), "calibrated": ece(ref.label, ref.score, cw)}
    metrics["brier"] = brier(ref.label, ref.score, cw)
    metrics["brier_uncalibrated"] = brier(ref.label, ref.raw, cw)
    metrics["rejection_at_eff"] = {str(e): rocs[ref.name].rejection(e) for e in EFFICIENCIES}
    metrics["rejection_at_eff_by_model"] = {s.name: {str(e): rocs[s.name].rejection(e) for e in EFFICIENCIES}
                                            for s in scores}
    metrics["ks"] = ref.overtraining_check["ks"]
    metrics["overtraining"] = {s.name: s.overtraining_check for s in scores}
    with atomic_path(out) as tmp:
        write_json(tmp, metrics)
    return metrics


OVERTRAINING_P = 0.01  # the false-flag rate of a model whose training and held-out scores agree
OVERTRAINING_EVENTS = 20_000  # events per class and side the test compares (its power then no longer grows
# with the sample: at 10^5 events any fit differs detectably from held-out events, at this size a flag means
# a KS distance above about 0.017, a difference large enough to see in the score histograms)


def overtraining(s: BundleScores) -> dict[str, Any]:
    """The overtraining check of one bundle: per class, a two-sample KS test between the fold-0
    model's scores on its own training events and on its held-out fold, at most
    :data:`OVERTRAINING_EVENTS` of each drawn at random (sizes equal, weights kept, Kish effective
    sizes); flagged when either class's p-value is below ``OVERTRAINING_P / 2`` (Bonferroni: a
    model that generalises is flagged in 1 % of trainings).  The loss gap is reported beside it."""
    ks = ks_summary(s)
    out: dict[str, Any] = {"ks": ks}
    for part in ("train", "validation", "test"):
        values = [fold[part] for fold in s.losses.values() if part in fold]
        out[f"loss_{part}"] = float(np.mean(values)) if values else None
    train, test = out["loss_train"], out["loss_test"]
    out["relative_gap"] = None if train is None or test is None else (test - train) / test
    out["overtrained"] = bool(ks) and min(v["pvalue"] for v in ks.values()) < OVERTRAINING_P / 2
    out["meaning"] = (f"KS test of training against held-out scores, {OVERTRAINING_EVENTS} events per class and side "
                      f"at most, flagged at p < {OVERTRAINING_P / 2:g} per class ({OVERTRAINING_P:g} together)")
    if out["overtrained"]:
        out["remedy"] = get_model(s.model).remedy
    return out


def compared_events(ks: Mapping[str, Mapping[str, Any]], names: Mapping[str, str] | None = None) -> str:
    """How many events per class the check compared: '20000 per class', or each class's count when
    a small class had fewer ('3000 signal, 800 background'), each class called by ``names``."""
    sizes = {(names or {}).get(c, c): int(v["events_train"]) for c, v in ks.items()}
    if len(set(sizes.values())) == 1:
        return f"{next(iter(sizes.values()))} per class"
    return ", ".join(f"{n} {c}" for c, n in sizes.items())


def ks_summary(s: BundleScores, *, events: int = OVERTRAINING_EVENTS, seed: int = 0) -> dict[str, Any]:
    """Per class, the KS test of the fold-0 model's scores on its training events against its test
    fold, both drawn down to the same size (at most ``events``)."""
    train = s.training_scores()
    if train is None:
        return {}
    rng = np.random.default_rng(seed)
    test = s.fold == 0
    out = {}
    for name, cls in (("signal", 1), ("background", 0)):
        a = train["train_label"] == cls
        b = test & (s.label == cls)
        out[name] = train_test_ks(train["train_score"][a], train["train_weight"][a], s.raw[b], s.weight[b],
                                  events=events, rng=rng)
    return out


def train_test_ks(train: np.ndarray, train_weight: np.ndarray, test: np.ndarray, test_weight: np.ndarray, *,
                  events: int = OVERTRAINING_EVENTS, rng: np.random.Generator) -> dict[str, Any]:
    """Weighted KS test of two score samples drawn down, at random, to one size (at most ``events``):
    equal sizes, so the test's power depends on ``events`` alone, not on how the folds were cut."""
    n = min(len(train), len(test), events)
    a, b = rng.choice(len(train), n, replace=False), rng.choice(len(test), n, replace=False)
    stat, p = ks_test(train[a], test[b], np.abs(train_weight[a]), np.abs(test_weight[b]))
    return {"statistic": stat, "pvalue": p, "events_train": int(n), "events_test": int(n)}
