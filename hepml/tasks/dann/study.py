"""What every side-by-side DANN study shares: the figures of merit and the merged metrics file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from hepml.bundle import write_json
from hepml.io.atomic import atomic_path
from hepml.metrics import auc

__all__ = ["gap_closed", "domain_auc", "merge_metrics"]


def gap_closed(source_only: float, dann: float, oracle: float) -> float | None:
    """Fraction of the source-only -> oracle gap on target that DANN closes; None when the oracle
    does not beat the source-only model (no gap to close: the ratio would mean nothing)."""
    gap = oracle - source_only
    return float((dann - source_only) / gap) if gap > 0 else None


def domain_auc(features_source: np.ndarray, features_target: np.ndarray, seed: int = 0) -> float:
    """How well a separate classifier tells the domains apart from learned features (0.5: not at all).

    A gradient-boosted classifier, out-of-fold predictions of a 4-fold split (so every event is
    judged by a classifier that did not train on it, which matters for small image samples).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = np.concatenate([features_source, features_target])
    y = np.concatenate([np.zeros(len(features_source)), np.ones(len(features_target))])
    leaf = int(np.clip(len(x) // 40, 5, 20))  # small samples still get splits
    clf = HistGradientBoostingClassifier(max_iter=100, min_samples_leaf=leaf, random_state=seed)
    folds = StratifiedKFold(4, shuffle=True, random_state=seed)
    return auc(y, cross_val_predict(clf, x, y, cv=folds, method="predict_proba")[:, 1])


def merge_metrics(parts: dict[str, str], out: str | os.PathLike[str]) -> dict[str, Any]:
    """``results/dann/metrics.json``: one section per task."""
    merged = {task: json.loads(Path(path).read_text()) for task, path in parts.items()}
    with atomic_path(out) as tmp:
        write_json(tmp, merged)
    return merged
