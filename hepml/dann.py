"""DANN on the Higgs task, side by side with a source-only model, an oracle and a control (the
same DANN training with lambda = 0), on pseudo-data.

Source = the nominal simulation (labelled).  Target = pseudo-data from a shifted detector model;
its truth labels are read only to evaluate and to train the oracle, never by the DANN fit (which
gets the target's features and weights only).  Each domain is split by event number: a quarter
is the test set, the rest trains (with the usual validation and calibration roles).

The DANN model is calibrated on the *source* calibration events: in a real analysis the data have
no labels, so the simulation is the only place a calibration can be fitted; the target ECE then
shows how well it transfers.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from hepml.bundle import FORMAT_VERSION, provenance, write_info, write_json
from hepml.calibration import make_calibrator
from hepml.features.spec import FeatureTable
from hepml.io.atomic import atomic_path
from hepml.metrics import auc, ece
from hepml.split import (
    CALIBRATION,
    STUDY_SEED_OFFSET,
    STUDY_TEST_FOLDS,
    TRAIN,
    VALIDATION,
    is_study_test_event,
    role_of,
)

__all__ = ["run_dann_higgs", "domain_auc", "gap_closed"]


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


def _split(table: FeatureTable, seed: int) -> dict[str, np.ndarray]:
    events = table.event_id["event"]
    test = is_study_test_event(events, seed)
    role = role_of(events, STUDY_TEST_FOLDS, seed + STUDY_SEED_OFFSET)
    return {"test": test, "train": ~test & (role == TRAIN), "val": ~test & (role == VALIDATION),
            "cal": ~test & (role == CALIBRATION)}


def run_dann_higgs(source: FeatureTable, target: FeatureTable, out: str | os.PathLike[str], *,
                   dense_config: dict[str, Any] | None = None, dann_config: dict[str, Any] | None = None,
                   seed: int = 0, calibration: str = "isotonic", spec_config: dict[str, Any] | None = None,
                   inputs: list[str] | None = None) -> dict[str, Any]:
    """Train source-only, DANN, control and oracle networks; write metrics, plots' inputs and the DANN bundle."""
    from hepml.models.dann import DannConfig, fit_dann_dense
    from hepml.models.dense import DenseConfig, fit_dense, hidden_features, predict

    dense, dann = DenseConfig.from_dict(dense_config), DannConfig.from_dict(dann_config)
    s, t = _split(source, seed), _split(target, seed)
    models: dict[str, Any] = {}
    logs: dict[str, Any] = {}
    models["source_only"], logs["source_only"] = fit_dense(
        source.X[s["train"]], source.label[s["train"]], source.weight[s["train"]],
        source.X[s["val"]], source.label[s["val"]], source.weight[s["val"]], dense, seed=seed)
    models["oracle"], logs["oracle"] = fit_dense(
        target.X[t["train"]], target.label[t["train"]], target.weight[t["train"]],
        target.X[t["val"]], target.label[t["val"]], target.weight[t["val"]], dense, seed=seed)
    unlabelled = target.X[t["train"]]  # the DANN fits never see target labels
    # the control: the same DANN training with lambda = 0 (domain head detached), which tells the
    # adversary's effect apart from that of the training procedure
    for name, config in (("dann", dann), ("no_adversary", replace(dann, lambda_max=0.0))):
        _, models[name], logs[name] = fit_dann_dense(
            source.X[s["train"]], source.label[s["train"]], source.weight[s["train"]],
            unlabelled, target.weight[t["train"]], dense, config, seed=seed)

    metrics: dict[str, Any] = {"source": {}, "target": {}, "domain_auc": {}, "ece_target": {}}
    scores: dict[str, np.ndarray] = {}
    xs, xt = source.X[s["test"]], target.X[t["test"]]
    for name, model in models.items():
        ps, pt = predict(model, xs), predict(model, xt)
        scores[f"{name}_source"], scores[f"{name}_target"] = ps, pt
        metrics["source"][name] = auc(source.label[s["test"]], ps, source.weight[s["test"]])
        metrics["target"][name] = auc(target.label[t["test"]], pt, target.weight[t["test"]])
        if name != "oracle":
            metrics["domain_auc"][name] = domain_auc(hidden_features(model, xs[:50_000]), hidden_features(model, xt[:50_000]), seed)
    metrics["gap_closed"] = gap_closed(metrics["target"]["source_only"], metrics["target"]["dann"], metrics["target"]["oracle"])
    metrics["source_auc_change"] = metrics["source"]["dann"] - metrics["source"]["source_only"]
    calibrator = make_calibrator(calibration).fit(predict(models["dann"], source.X[s["cal"]]),
                                                  source.label[s["cal"]], source.weight[s["cal"]])
    metrics["ece_target"]["dann_calibrated_on_source"] = ece(target.label[t["test"]], calibrator.predict(scores["dann_target"]),
                                                             target.weight[t["test"]])
    metrics["events"] = {"source_train": int(s["train"].sum()), "target_train": int(t["train"].sum()),
                         "source_test": int(s["test"].sum()), "target_test": int(t["test"].sum())}
    with atomic_path(out) as folder:
        folder.mkdir()
        write_json(folder / "metrics.json", metrics)
        write_json(folder / "history.json", logs)
        np.savez_compressed(folder / "scores.npz", **scores,
                            label_source=source.label[s["test"]], weight_source=source.weight[s["test"]],
                            label_target=target.label[t["test"]], weight_target=target.weight[t["test"]])
        bundle = folder / "bundle"
        bundle.mkdir()
        models["dann"].save(bundle / "fold0.keras")
        write_json(bundle / "calibration.json", calibrator.to_dict())
        (bundle / "feature_spec.yaml").write_text(yaml.safe_dump(spec_config or {}, sort_keys=False))
        write_info(bundle, {
            "format": FORMAT_VERSION, "kind": "keras", "model": "dnn-dann", "columns": list(source.names), "k": 1,
            "seed": seed, "fold_key": "event", "models": ["fold0.keras"], "calibration": calibration,
            "calibrated_on": "source calibration events (the target has no labels in a real analysis)",
            "provenance": provenance({"dense": dense.as_dict(), "dann": dann.as_dict()}, list(inputs or []), seed),
        })
    return metrics


def merge_metrics(parts: dict[str, str], out: str | os.PathLike[str]) -> dict[str, Any]:
    """``results/dann/metrics.json``: one section per task."""
    merged = {task: json.loads(Path(path).read_text()) for task, path in parts.items()}
    with atomic_path(out) as tmp:
        write_json(tmp, merged)
    return merged
