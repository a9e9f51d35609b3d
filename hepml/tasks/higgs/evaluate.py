"""Evaluate trained bundles from their saved out-of-fold scores: AUC table, calibration, rejection, KS.

Everything here reads files the training wrote (``oof.root``, ``overtraining.npz``), so the numbers
and the plots can be remade without retraining.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from hepml.bundle import read_info, write_json
from hepml.errors import ConfigError
from hepml.io.atomic import atomic_path
from hepml.metrics import auc, bootstrap_auc, brier, ece, ks_test, rejection_at
from hepml.split import CALIBRATION

__all__ = ["BundleScores", "load_scores", "evaluate", "EFFICIENCIES"]

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

    def overtraining(self) -> dict[str, np.ndarray] | None:
        file = self.path / "overtraining.npz"
        if not file.exists():
            return None
        with np.load(file, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}


def load_scores(path: str | os.PathLike[str]) -> BundleScores:
    """A bundle's out-of-fold scores; its name is ``MODEL_FEATURESET`` (the folder name)."""
    folder = Path(path)
    info = read_info(folder)
    with uproot.open(folder / "oof.root") as f:
        arrays = f["oof"].arrays(["score", "score_raw", "label", "weight", "fold", "role"], library="np")
    keep = arrays["role"] != CALIBRATION
    model, _, featureset = folder.name.partition("_")
    return BundleScores(folder.name, info["model"], featureset or "all", arrays["score"][keep].astype(np.float64),
                        arrays["score_raw"][keep].astype(np.float64), arrays["label"][keep],
                        arrays["weight"][keep].astype(np.float64), arrays["fold"][keep], folder)


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
    for s in scores:
        metrics["auc"].setdefault(s.model, {})[s.featureset] = auc(s.label, s.raw, s.weight)
        metrics["auc_uncertainty"].setdefault(s.model, {})[s.featureset] = bootstrap_auc(
            s.label, s.raw, s.weight, n=bootstrap
        )
        metrics["events"][s.name] = int(len(s.label))
    metrics["ece"] = {
        "uncalibrated": ece(ref.label, ref.raw, ref.weight),
        "calibrated": ece(ref.label, ref.score, ref.weight),
    }
    metrics["brier"] = brier(ref.label, ref.score, ref.weight)
    metrics["brier_uncalibrated"] = brier(ref.label, ref.raw, ref.weight)
    metrics["rejection_at_eff"] = {str(e): rejection_at(ref.label, ref.raw, ref.weight, e) for e in EFFICIENCIES}
    metrics["rejection_at_eff_by_model"] = {
        s.name: {str(e): rejection_at(s.label, s.raw, s.weight, e) for e in EFFICIENCIES} for s in scores
    }
    metrics["ks"] = ks_summary(ref)
    with atomic_path(out) as tmp:
        write_json(tmp, metrics)
    return metrics


def ks_summary(s: BundleScores) -> dict[str, Any]:
    """KS test of the fold-0 model's scores on its training events against its test fold, per class."""
    train = s.overtraining()
    if train is None:
        return {}
    test = s.fold == 0
    out = {}
    for name, cls in (("signal", 1), ("background", 0)):
        a = train["train_label"] == cls
        b = test & (s.label == cls)
        stat, p = ks_test(train["train_score"][a], s.raw[b], np.abs(train["train_weight"][a]), np.abs(s.weight[b]))
        out[name] = {"statistic": stat, "pvalue": p}
    return out
