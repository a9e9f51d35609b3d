"""The Higgs task's training: k-fold cross-training by the fold key (one job per fold), calibration on
held-out events, and the bundle it writes.  Model-agnostic: each model comes from the registry."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hepml.bundle import write_bundle, write_json
from hepml.calibration import make_calibrator, parse_prior, prior_weights
from hepml.errors import ConfigError, EmptyInputError
from hepml.features.fingerprint import build_fingerprint
from hepml.features.foldkey import FOLD_KEY, spec_fold_key
from hepml.features.spec import FeatureTable
from hepml.features.symmetries import Symmetries
from hepml.io.atomic import atomic_path, check_replaceable, scratch_dir
from hepml.io.write import write_friend
from hepml.metrics import auc, log_loss
from hepml.models.registry import FittedFold, get_model, load_fit
from hepml.settings import SEED, check_limits
from hepml.split import CALIBRATION, TRAIN, VALIDATION, fold_of, role_of

__all__ = ["train_kfold", "train_fold", "assemble_bundle", "fold_masks", "fold_sizes", "describe_sizes",
           "FINGERPRINT"]

log = logging.getLogger(__name__)
FINGERPRINT = "fingerprint.npz"  # the training events' fingerprint in a bundle (hepml.features.fingerprint)


def fold_masks(events: np.ndarray, k: int, seed: int, fold: int, *, early_stopping: bool = True
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, validation, test) rows of fold ``fold``: the model trains on the other folds' training
    events, early-stops on their validation events (or trains on them too, without early stopping),
    and scores fold ``fold``; calibration events are never trained on."""
    folds, roles = fold_of(events, k, seed), role_of(events, k, seed)
    train, val = (folds != fold) & (roles == TRAIN), (folds != fold) & (roles == VALIDATION)
    if not early_stopping:
        train, val = train | val, np.zeros_like(val)
    return train, val, folds == fold


def _fit(model: str, table: FeatureTable, train: np.ndarray, val: np.ndarray, config: dict[str, Any], seed: int,
         folder: Path, fold: int, symmetries: Symmetries | None) -> FittedFold:
    X, y, w = table.X, table.label, table.weight
    return load_fit(model)(X[train], y[train], w[train], X[val], y[val], w[val], config=config, seed=seed,
                           folder=folder, fold=fold,
                           symmetries=symmetries.columns(table.names) if symmetries else None)  # None: none declared


def _losses(predict: Any, table: FeatureTable, masks: dict[str, np.ndarray], test: np.ndarray,
            raw_test: np.ndarray) -> dict[str, float]:
    """Balanced-weight log-loss of the trained model, in inference mode, on its training, validation
    and test events: the gap between train and test is the overtraining measure of metrics.json."""
    def loss(rows: np.ndarray, prob: np.ndarray) -> float:
        y = table.label[rows]
        return log_loss(y, prob, prior_weights(y, table.weight[rows], "balanced"))

    out = {name: loss(rows, predict(table.X[rows])) for name, rows in masks.items() if rows.any()}
    out["test"] = loss(test, raw_test)
    return out


def _permutation_importance(predict: Any, table: FeatureTable, rows: np.ndarray, seed: int) -> dict[str, float]:
    """AUC lost when one feature is shuffled (Breiman 2001), on up to 50k held-out events."""
    rng = np.random.default_rng(seed)
    rows = rng.permutation(rows)[:50_000]
    X, y, w = table.X[rows], table.label[rows], table.weight[rows]
    base = auc(y, predict(X), w)
    out = {}
    for i, name in enumerate(table.names):
        shuffled = X.copy()
        shuffled[:, i] = rng.permutation(shuffled[:, i])
        out[name] = base - auc(y, predict(shuffled), w)
    return out


def _check_table(table: FeatureTable, model: str, fold_key: str) -> None:
    get_model(model)
    if len(table) == 0:
        raise EmptyInputError("no training events: every input is empty or cut away")
    if fold_key not in table.event_id:
        ids = ", ".join(table.event_id) or "none"
        raise ConfigError(f"no fold-key column {fold_key!r} among the table's ids ({ids}); build the features "
                          "with a spec (its fold_key: sets the key) or name an id column")
    signal = table.label == 1
    if not (signal.any() and not signal.all() and (signal | (table.label == 0)).all()):
        labels = sorted(set(np.unique(table.label).tolist()))
        raise ConfigError(f"training needs labels 0 and 1, found {labels}; set each sample's label")


def _check_split(table: FeatureTable, k: int, seed: int, fold_key: str) -> None:
    """Before any training: the seed is one every library takes, and the fold key splits the events
    into k folds whose every model has events of both classes to train on and events to score."""
    check_limits(seed, SEED, "seed")
    if k < 2:
        raise ConfigError(f"k = {k}: k-fold training needs k >= 2 folds")
    events = table.event_id[fold_key]
    folds, roles = fold_of(events, k, seed), role_of(events, k, seed)
    for j in range(k):
        train = (folds != j) & (roles == TRAIN)
        pos = [float(table.weight[train & (table.label == c)].sum()) for c in (0.0, 1.0)]
        if (folds == j).any() and min(pos) > 0:
            continue
        distinct = int(np.unique(events).size)  # only to explain the failure (4 s at 4.4 M events)
        if distinct < min(2 * k, len(table) // 2):
            raise ConfigError(f"the fold key (column {fold_key!r}, from the spec's fold_key:) takes only {distinct} "
                              f"distinct value(s) over {len(table)} events, so the {k} folds cannot be filled "
                              f"(fold {j} gets no usable events); use a key that differs from event to event: "
                              "an event number, hash(...) of event values, or entry")
        raise ConfigError(f"k = {k} folds for {len(table)} events ({distinct} distinct fold keys): fold {j} gets no "
                          "events to score or its model none of one class to train on; choose a smaller k (3 to 10 "
                          "is usual)")
    cal = roles == CALIBRATION
    if not all(float(table.weight[cal & (table.label == c)].sum()) > 0 for c in (0.0, 1.0)):
        raise ConfigError(f"the calibration events (10 % of {len(table)}, chosen by fold key {fold_key!r}) hold no "
                          "positive weight of one class; give more events, or a fold key that differs from event to "
                          "event")


def fold_sizes(table: FeatureTable, *, k: int, seed: int, model: str, fold: int,
               fold_key: str = FOLD_KEY) -> dict[str, int]:
    """How many events fold ``fold``'s model trains on, early-stops on and scores: what a log
    should say, since the table's size counts every role (and the calibration part) together."""
    masks = fold_masks(table.event_id[fold_key], k, seed, fold, early_stopping=get_model(model).early_stopping)
    return {role: int(mask.sum()) for role, mask in zip(("train", "validation", "scored"), masks)}


def describe_sizes(sizes: list[dict[str, int]]) -> str:
    """``training on 2748-2844 events, early-stopping on 337-344, scoring 1734-1798`` over folds."""
    def span(role: str) -> str:
        low, high = min(s[role] for s in sizes), max(s[role] for s in sizes)
        return f"{low}" if low == high else f"{low}-{high}"
    return f"training on {span('train')} events, early-stopping on {span('validation')}, scoring {span('scored')}"


def train_fold(
    table: FeatureTable,
    out: str | os.PathLike[str],
    *,
    fold: int,
    model: str = "dnn",
    k: int = 3,
    seed: int = 0,
    fold_key: str = FOLD_KEY,
    model_config: dict[str, Any] | None = None,
    importance: bool = False,
    symmetries: Symmetries | None = None,
) -> Path:
    """Train the model of one fold (one batch job): it trains on the other folds and writes its
    raw scores of fold ``fold``, which it never saw, to ``out`` (a folder, written atomically).
    ``symmetries`` (the feature spec's) are what ``augment`` in ``model_config`` transforms."""
    _check_table(table, model, fold_key)
    _check_split(table, k, seed, fold_key)
    if not 0 <= fold < k:
        raise ConfigError(f"fold {fold} is outside 0 .. {k - 1}")
    events = table.event_id[fold_key]
    train, val, test = fold_masks(events, k, seed, fold, early_stopping=get_model(model).early_stopping)
    log.info("%s fold %d/%d: %s", model, fold, k,
             describe_sizes([{"train": int(train.sum()), "validation": int(val.sum()), "scored": int(test.sum())}]))
    with atomic_path(out, kind="fold") as folder:
        folder.mkdir()
        fitted = _fit(model, table, train, val, dict(model_config or {}), seed + fold, folder, fold, symmetries)
        raw = fitted.predict(table.X[test])
        np.savez(folder / "scores.npz", raw=raw, event=events[test])  # compressing random floats: 2 s, ~0 %
        write_json(folder / "history.json", fitted.history)
        write_json(folder / "fold.json", {"fold": fold, "k": k, "files": fitted.files,
                                          "settings": getattr(fitted, "settings", {}),
                                          "loss": _losses(fitted.predict, table, {"train": train, "validation": val},
                                                          test, raw)})
        if fold == 0:  # train vs test scores of one fold model, for the overtraining check
            rows = np.sort(np.random.default_rng(seed).permutation(np.flatnonzero(train))[:200_000])
            np.savez_compressed(folder / "overtraining.npz", train_score=fitted.predict(table.X[rows]),
                                train_label=table.label[rows], train_weight=table.weight[rows])
            if importance:
                write_json(folder / "importance.json",
                           _permutation_importance(fitted.predict, table, np.flatnonzero(test), seed))
    return Path(out)


def assemble_bundle(
    table: FeatureTable,
    fold_dirs: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    model: str = "dnn",
    seed: int = 0,
    fold_key: str = FOLD_KEY,
    model_config: dict[str, Any] | None = None,
    calibration: str = "isotonic",
    prior: str | float = "balanced",
    spec_config: dict[str, Any] | None = None,
    inputs: list[str] | None = None,
    training_data: dict[str, str] | None = None,
    weights: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Gather the fold jobs' outputs into one bundle; fit the calibrator on the out-of-fold scores of
    the calibration events (never trained on), weighted for the class ``prior`` (see
    :func:`hepml.calibration.prior_weights`)."""
    _check_table(table, model, fold_key)
    k = len(fold_dirs)
    _check_split(table, k, seed, fold_key)
    events = table.event_id[fold_key]
    folds, roles = fold_of(events, k, seed), role_of(events, k, seed)
    raw = np.full(len(table), np.nan)
    with atomic_path(out, kind="bundle") as folder:
        folder.mkdir()
        entry = get_model(model)
        folds_info = _gather_folds([Path(d) for d in fold_dirs], folder, raw, events, folds, seed, entry.suffix)
        cal_rows = roles == CALIBRATION
        y, w = table.label[cal_rows], table.weight[cal_rows]
        calibrator = make_calibrator(calibration).fit(raw[cal_rows], y, prior_weights(y, w, prior))
        score = np.clip(calibrator.predict(raw), 0.0, 1.0)
        columns = {"score": score.astype(np.float32), "score_raw": raw.astype(np.float32),
                   "label": table.label, "weight": table.weight, "fold": folds.astype(np.int32),
                   "role": roles.astype(np.int32), **table.event_id}
        write_friend(folder / "oof.root", [columns], tree="oof", expected_entries=len(table))
        fingerprint, why = build_fingerprint(table.X, folds)
        if fingerprint is not None:
            fingerprint.save(folder / FINGERPRINT)
        config = dict(model_config or {})
        return write_bundle(
            folder, kind="keras" if entry.suffix == ".keras" else "baseline", model=model,
            models=folds_info["models"], seed=seed, columns=list(table.names), k=k,
            fold_key=_recorded_key(fold_key, spec_config), calibration_prior=parse_prior(prior),
            settings={"model": model, "model_config": config, "calibration": calibration, "k": k,
                      "trained_with": folds_info["trained_with"]},
            fingerprint=fingerprint.describe(FINGERPRINT) if fingerprint is not None else {"off": why},
            losses=folds_info["losses"], inputs=list(inputs or []), spec_config=spec_config or {},
            calibrator=calibrator, history=folds_info["history"], training_data=dict(training_data or {}),
            weights=dict(weights or {}))


def _gather_folds(fold_dirs: list[Path], folder: Path, raw: np.ndarray, events: np.ndarray, folds: np.ndarray,
                  seed: int, suffix: str) -> dict[str, Any]:
    """Copy the fold jobs' files into the bundle folder and their out-of-fold scores into ``raw``
    (checked to be the scores of exactly the events of each fold); their histories, losses and settings."""
    k = len(fold_dirs)
    gathered: dict[str, Any] = {"history": {}, "losses": {}, "trained_with": {}, "models": []}
    for j, src in enumerate(fold_dirs):
        with np.load(src / "scores.npz", allow_pickle=False) as data:
            if not np.array_equal(data["event"], events[folds == j]):
                raise ConfigError(f"{src}: its scores are not those of fold {j} of these features "
                                  f"(k={k}, seed={seed}); give the fold folders in order 0 .. {k - 1}")
            raw[folds == j] = data["raw"]
        gathered["history"][f"fold{j}"] = json.loads((src / "history.json").read_text())
        fold_info = json.loads((src / "fold.json").read_text())
        gathered["losses"][f"fold{j}"] = fold_info.get("loss", {})
        gathered["trained_with"] = fold_info.get("settings", {})
        gathered["models"] += [f for f in fold_info["files"] if f.endswith(suffix)]
        for name in [*fold_info["files"], "overtraining.npz", "importance.json"]:
            if (src / name).exists():
                shutil.copy2(src / name, folder / name)
    return gathered


def _recorded_key(column: str, spec_config: dict[str, Any] | None) -> str:
    """The key as scoring computes it from an ntuple: the spec's ``fold_key`` for the column the spec
    builds, else the id column's own name (an event-id branch)."""
    return spec_fold_key(spec_config) if column == FOLD_KEY else column


def train_kfold(
    table: FeatureTable,
    out: str | os.PathLike[str],
    *,
    model: str = "dnn",
    k: int = 3,
    seed: int = 0,
    fold_key: str = FOLD_KEY,
    model_config: dict[str, Any] | None = None,
    calibration: str = "isotonic",
    prior: str | float = "balanced",
    spec_config: dict[str, Any] | None = None,
    inputs: list[str] | None = None,
    importance: bool = False,
    training_data: dict[str, str] | None = None,
    weights: dict[str, str] | None = None,
    symmetries: Symmetries | None = None,
) -> dict[str, Any]:
    """All folds in this process, then the bundle: :func:`train_fold` k times and :func:`assemble_bundle`.

    The workflow runs the same two steps as separate jobs, one per fold, so a farm trains them in parallel.
    """
    _check_table(table, model, fold_key)
    _check_split(table, k, seed, fold_key)
    out = check_replaceable(out, "bundle")  # before the k trainings, not after them
    with scratch_dir(out) as tmp:
        dirs = [train_fold(table, tmp / f"fold{j}", fold=j, model=model, k=k, seed=seed, fold_key=fold_key,
                           model_config=model_config, importance=importance, symmetries=symmetries)
                for j in range(k)]
        return assemble_bundle(table, dirs, out, model=model, seed=seed, fold_key=fold_key, model_config=model_config,
                               calibration=calibration, prior=prior, spec_config=spec_config, inputs=inputs,
                               training_data=training_data, weights=weights)
