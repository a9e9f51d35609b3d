"""Figures for a physics note (matplotlib + mplhep), each written as PDF and PNG.

All inputs are files the pipeline saved (bundles' out-of-fold scores, feature files), so
``hepml plot`` remakes every figure without retraining.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import uproot

from hepml.bundle import bundle_file, load_spec
from hepml.features.files import read_features
from hepml.plotting import figure, header_axes, panel_title, save, without_lumi
from hepml.tasks.higgs.draw import (
    CLASS_NAMES,
    display_name,
    draw_correlations,
    draw_feature,
    draw_history,
    draw_importance,
    draw_reliability,
    draw_roc,
    draw_roc_linear,
    draw_scores,
)
from hepml.tasks.higgs.evaluate import BundleScores, load_scores

__all__ = ["plot_roc", "plot_scores", "plot_reliability", "plot_features", "plot_correlations", "plot_importance",
           "plot_history", "make_plots", "class_names"]


def plot_roc(scores: list[BundleScores], out: Path, reference: str | None = None, *, replicas: int = 20) -> list[Path]:
    """``roc``: 1/eps_B against eps_S with the ratio to the reference (:func:`draw_roc`), and
    ``roc_linear``: eps_B against eps_S (:func:`draw_roc_linear`)."""
    with figure(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.2]}, figsize=(8, 8)) as (fig, (ax, rax)), \
            without_lumi():
        draw_roc(scores, reference, ax=ax, rax=rax, replicas=replicas)
        paths = save(fig, out, "roc")
    with figure(figsize=(7, 7)) as (fig, ax), without_lumi():
        draw_roc_linear(scores, ax=ax)
        return paths + save(fig, out, "roc_linear")


def plot_scores(s: BundleScores, out: Path, names: Mapping[int, str] = CLASS_NAMES) -> list[Path]:
    """``scores_<bundle>``: train against test score distributions (:func:`draw_scores`)."""
    with figure(figsize=(8, 6)) as (fig, ax):
        draw_scores(s, ax=ax, names=names)
        return save(fig, out, f"scores_{s.name}")


def plot_reliability(s: BundleScores, out: Path, bins: int = 20) -> list[Path]:
    """``reliability_<bundle>``: the reliability diagram and the events per bin (:func:`draw_reliability`)."""
    with figure(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]}, figsize=(7, 8)) as (fig, (ax, hax)), \
            without_lumi():
        draw_reliability(s, ax=ax, hax=hax, bins=bins)
        return save(fig, out, f"reliability_{s.name}")


def plot_features(X: np.ndarray, y: np.ndarray, w: np.ndarray, names: list[str], out: Path,
                  labels: list[str] | None = None, units: list[str] | None = None,
                  classes: Mapping[int, str] = CLASS_NAMES) -> list[Path]:
    """Input features, signal against background (:func:`draw_feature`): the overview grid
    ``features`` with one legend for the page, and one figure per feature, ``features/<column>``;
    axes labelled with the spec's ``label`` and ``unit``."""
    labels, units = labels or names, units or [""] * len(names)
    ncol = 6
    nrow = int(np.ceil(len(names) / ncol))
    with figure(nrow, ncol, figsize=(4 * ncol, 3.2 * nrow)) as (fig, axes):
        for i, ax in enumerate(np.atleast_1d(axes).ravel()):
            if i >= len(names):
                ax.axis("off")
                continue
            draw_feature(X[:, i], y, w, ax=ax, xlabel=labels[i], unit=units[i], fontsize=11, names=classes)
            ax.tick_params(labelsize=8)
        handles, legend_labels = np.atleast_1d(axes).ravel()[0].get_legend_handles_labels()
        fig.legend(handles, legend_labels, loc="upper right", ncols=2, fontsize=14, frameon=False)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / (3.2 * nrow)))
        top = np.atleast_1d(axes).ravel()
        header = header_axes(fig, top[0], top[min(ncol, len(top)) // 2 - 1])  # the left half: the legend is right
        paths = save(fig, out, "features", label_axes=header)
    for i, name in enumerate(names):
        with figure(figsize=(7, 6)) as (fig, ax):
            draw_feature(X[:, i], y, w, ax=ax, xlabel=labels[i], unit=units[i], fontsize=20, names=classes)
            ax.legend(loc="upper center", fontsize=16)
            ax.set_ylim(0, ax.get_ylim()[1] * 1.2)  # room for the legend and the flow marks
            paths += save(fig, out / "features", re.sub(r"[^\w.-]", "_", name))  # a column name, safe as a file name
    return paths


def plot_correlations(X: np.ndarray, y: np.ndarray, names: list[str], out: Path,
                      classes: Mapping[int, str] = CLASS_NAMES) -> list[Path]:
    """``correlations``: linear correlation matrices of the inputs for signal and for background
    (``names``: the axis labels of the columns)."""
    with figure(1, 2, figsize=(22, 10)) as (fig, axes), without_lumi():
        for ax, cls, title in ((axes[0], 1, classes[1]), (axes[1], 0, classes[0])):
            (image,) = draw_correlations(X[y == cls], names, ax=ax, title=f"correlations, {title}")
        fig.colorbar(image, ax=axes, shrink=0.8, label="linear correlation coefficient")
        return save(fig, out, "correlations")


def plot_importance(importance: dict[str, float], out: Path, s: BundleScores) -> list[Path]:
    """``importance_<bundle>``: permutation importance (:func:`draw_importance`), features called
    by the labels of the bundle's spec."""
    spec = load_spec(s.path, s.info)
    labels = {c: spec.axis_label(c).removesuffix(f" [{spec.unit_of(c)}]") for c in importance}
    with figure(figsize=(8, max(4, 0.3 * len(importance)))) as (fig, ax), without_lumi():
        draw_importance(importance, ax=ax, labels=labels)
        panel_title(ax, display_name(s))
        return save(fig, out, f"importance_{s.name}")


def plot_history(history: dict[str, dict[str, list[float]]], out: Path, s: BundleScores) -> list[Path]:
    """``history_<bundle>``: loss curves per fold (:func:`draw_history`), per epoch or per boosting
    iteration."""
    with figure(figsize=(8, 6)) as (fig, ax), without_lumi():
        draw_history(history, ax=ax, step="epoch" if s.info["kind"] == "keras" else "boosting iteration")
        return save(fig, out, f"history_{s.name}")


def class_names(features: Sequence[str]) -> dict[int, str]:
    """{label: what the legends call it}: the names of the samples of that class (the feature
    files' names, as the workflow writes them: ``features/<sample>.root``), joined by ' + ';
    'signal' and 'background' when no feature files are given."""
    samples: dict[int, list[str]] = {}
    for path in features:
        with uproot.open(path) as f:
            labels = np.unique(f["features"]["label"].array(library="np"))
        for label in labels:  # a file of both classes (a label expression) is named in both
            samples.setdefault(int(label), []).append(Path(path).stem)
    return {cls: " + ".join(samples[cls]) if samples.get(cls) else CLASS_NAMES[cls] for cls in (0, 1)}


def make_plots(
    bundles: list[str], features: list[str], out: str | os.PathLike[str], reference: str | None = None
) -> list[Path]:
    """Every figure of the Higgs task from saved inputs."""
    out = Path(out)
    scores = [load_scores(b) for b in bundles]
    ref = next((s for s in scores if s.name == reference), scores[0])
    classes = class_names(features)
    paths = plot_roc(scores, out, ref.name)
    for s in scores:  # the reference and every other model on its features, side by side in a note
        if s is ref or s.featureset == ref.featureset:
            paths += plot_scores(s, out, classes) + plot_reliability(s, out)
    if features:
        spec = load_spec(ref.path, ref.info)
        table = read_features(features, spec.columns)
        paths += plot_features(table.X, table.label, table.weight, table.names, out,
                               [spec.axis_label(n) for n in table.names], [spec.unit_of(n) for n in table.names],
                               classes)
        paths += plot_correlations(table.X, table.label, [spec.axis_label(n) for n in table.names], out, classes)
    for s in scores:
        for file, plot in (("importance.json", plot_importance), ("history.json", plot_history)):
            if file in s.info["integrity"]["files"]:
                data = json.loads(bundle_file(s.path, s.info, file).read_text())
                if data and any(data.values()):
                    paths += plot(data, out, s)
    return paths
