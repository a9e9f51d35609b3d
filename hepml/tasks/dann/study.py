"""What every side-by-side DANN study shares: the figures of merit and the merged metrics file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from hepml.bundle import write_json
from hepml.errors import ConfigError
from hepml.io.atomic import atomic_path
from hepml.metrics import auc, over_seeds

__all__ = ["gap_closed", "domain_auc", "summarise_seeds", "merge_metrics"]


def gap_closed(source_only: float, dann: float, oracle: float, gap_std: float = 0.0) -> float | None:
    """Fraction of the source-only -> oracle gap on target that DANN closes; None when the oracle
    does not beat the source-only model by more than twice the gap's uncertainty ``gap_std`` (no
    gap to close: the ratio would be noise divided by noise, e.g. -9 for a gap of 0.0007)."""
    gap = oracle - source_only
    return float((dann - source_only) / gap) if gap > 2 * gap_std else None  # gap_std >= 0: gap > 0 too


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


def summarise_seeds(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """:func:`~hepml.metrics.over_seeds` of a study's runs, and ``gap_closed_of_means``: the gap
    closed by the mean target figures, stabler than the mean of per-seed ratios when the gap is
    small; null when the mean gap is within twice its standard error over seeds.
    ``control_gap_closed_of_means`` is the same for the control (lambda = 0): the part of the gap
    that the training procedure closes without the adversary (a warm start trains longer than the
    source-only network), so that DANN's figure is read against it."""
    summary = over_seeds(runs)
    mean = {model: summary.get(f"target.{model}", {}).get("mean")
            for model in ("source_only", "dann", "no_adversary", "oracle")}
    gap = summary.get("gap")
    # the mean gap must stand out of its standard error over seeds (one seed: of its bootstrap)
    one_seed = summary.get("gap_std", {}).get("mean") or 0.0
    gap_std = gap["std"] / np.sqrt(gap["n"]) if gap and gap["std"] is not None else one_seed
    source_only, oracle = mean["source_only"], mean["oracle"]
    for key, model in (("gap_closed_of_means", "dann"), ("control_gap_closed_of_means", "no_adversary")):
        value = mean[model]
        summary[key] = (None if source_only is None or oracle is None or value is None
                        else gap_closed(source_only, value, oracle, gap_std))
    return summary


def merge_metrics(parts: dict[str, str], out: str | os.PathLike[str],
                  about: dict[str, Any] | None = None) -> dict[str, Any]:
    """``results/dann/metrics.json``: each study's per-seed metrics and their summary.

    ``parts`` maps ``STUDY/SEED`` (a study may be nested: ``higgs/jes/42``) to a run's metrics.json;
    ``about`` adds a description to a study (``{"higgs/jes": {"target_detector": ...}}``).
    """
    studies: dict[str, dict[str, Any]] = {}
    for key, path in parts.items():
        study, _, seed = key.rpartition("/")
        if not study or not seed.isdigit() or not path:
            raise ConfigError(f"part {key!r} is not STUDY/SEED=metrics.json (e.g. higgs/jes/42=run/metrics.json)")
        studies.setdefault(study, {})[seed] = json.loads(Path(path).read_text())
    merged: dict[str, Any] = {}
    for study, runs in studies.items():
        node = merged
        for level in study.split("/"):
            node = node.setdefault(level, {})
        node.update((about or {}).get(study, {}))
        node["summary"], node["seeds"] = summarise_seeds(runs), runs
    with atomic_path(out) as tmp:
        write_json(tmp, merged)
    return merged
