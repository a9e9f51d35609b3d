"""Figures for a physics note (matplotlib + mplhep), each written as PDF and PNG.

All inputs are files the pipeline saved (bundles' out-of-fold scores, feature files), so
``hepml plot`` remakes every figure without retraining.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from hepml.bundle import bundle_file, load_spec
from hepml.features.files import read_features
from hepml.plotting import figure, save
from hepml.tasks.higgs.draw import (
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
           "plot_history", "make_plots"]


def plot_roc(scores: list[BundleScores], out: Path, reference: str | None = None, *, replicas: int = 20) -> list[Path]:
    """``roc``: 1/eps_B against eps_S with the ratio to the reference (:func:`draw_roc`), and
    ``roc_linear``: eps_B against eps_S (:func:`draw_roc_linear`)."""
    with figure(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.2]}, figsize=(8, 8)) as (fig, (ax, rax)):
        draw_roc(scores, reference, ax=ax, rax=rax, replicas=replicas)
        paths = save(fig, out, "roc")
    with figure(figsize=(7, 7)) as (fig, ax):
        draw_roc_linear(scores, ax=ax)
        return paths + save(fig, out, "roc_linear")


def plot_scores(s: BundleScores, out: Path) -> list[Path]:
    """``scores_<bundle>``: train against test score distributions (:func:`draw_scores`)."""
    with figure(figsize=(8, 6)) as (fig, ax):
        draw_scores(s, ax=ax)
        return save(fig, out, f"scores_{s.name}")


def plot_reliability(s: BundleScores, out: Path, bins: int = 15) -> list[Path]:
    """``reliability_<bundle>``: the reliability diagram and the events per bin (:func:`draw_reliability`)."""
    with figure(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]}, figsize=(7, 8)) as (fig, (ax, hax)):
        draw_reliability(s, ax=ax, hax=hax, bins=bins)
        return save(fig, out, f"reliability_{s.name}")


def plot_features(X: np.ndarray, y: np.ndarray, w: np.ndarray, names: list[str], out: Path,
                  labels: list[str] | None = None, units: list[str] | None = None) -> list[Path]:
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
            draw_feature(X[:, i], y, w, ax=ax, xlabel=labels[i], unit=units[i], fontsize=11)
            ax.tick_params(labelsize=8)
        handles, legend_labels = np.atleast_1d(axes).ravel()[0].get_legend_handles_labels()
        fig.legend(handles, legend_labels, loc="upper right", ncols=2, fontsize=14, frameon=False)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / (3.2 * nrow)))
        paths = save(fig, out, "features")
    for i, name in enumerate(names):
        with figure(figsize=(7, 6)) as (fig, ax):
            draw_feature(X[:, i], y, w, ax=ax, xlabel=labels[i], unit=units[i], fontsize=20)
            ax.legend(loc="upper center", fontsize=16)
            ax.set_ylim(0, ax.get_ylim()[1] * 1.2)  # room for the legend and the flow marks
            paths += save(fig, out / "features", re.sub(r"[^\w.-]", "_", name))  # a column name, safe as a file name
    return paths


def plot_correlations(X: np.ndarray, y: np.ndarray, names: list[str], out: Path) -> list[Path]:
    """``correlations``: linear correlation matrices of the inputs for signal and for background
    (``names``: the axis labels of the columns)."""
    with figure(1, 2, figsize=(22, 10)) as (fig, axes):
        for ax, cls, title in ((axes[0], 1, "signal"), (axes[1], 0, "background")):
            (image,) = draw_correlations(X[y == cls], names, ax=ax, title=f"correlations, {title}")
        fig.colorbar(image, ax=axes, shrink=0.8, label="linear correlation coefficient")
        return save(fig, out, "correlations")


def plot_importance(importance: dict[str, float], out: Path, name: str) -> list[Path]:
    """``importance_<bundle>``: permutation importance (:func:`draw_importance`)."""
    with figure(figsize=(8, max(4, 0.3 * len(importance)))) as (fig, ax):
        draw_importance(importance, ax=ax)
        return save(fig, out, f"importance_{name}")


def plot_history(history: dict[str, dict[str, list[float]]], out: Path, name: str) -> list[Path]:
    """``history_<bundle>``: loss curves per fold (:func:`draw_history`)."""
    with figure(figsize=(8, 6)) as (fig, ax):
        draw_history(history, ax=ax)
        return save(fig, out, f"history_{name}")


def make_plots(
    bundles: list[str], features: list[str], out: str | os.PathLike[str], reference: str | None = None
) -> list[Path]:
    """Every figure of the Higgs task from saved inputs."""
    out = Path(out)
    scores = [load_scores(b) for b in bundles]
    ref = next((s for s in scores if s.name == reference), scores[0])
    paths = plot_roc(scores, out, ref.name)
    paths += plot_scores(ref, out) + plot_reliability(ref, out)
    if features:
        spec = load_spec(ref.path, ref.info)
        table = read_features(features, spec.columns)
        paths += plot_features(table.X, table.label, table.weight, table.names, out,
                               [spec.axis_label(n) for n in table.names], [spec.unit_of(n) for n in table.names])
        paths += plot_correlations(table.X, table.label, [spec.axis_label(n) for n in table.names], out)
    for s in scores:
        for file, plot in (("importance.json", plot_importance), ("history.json", plot_history)):
            if file in s.info["integrity"]["files"]:
                data = json.loads(bundle_file(s.path, s.info, file).read_text())
                if data and any(data.values()):
                    paths += plot(data, out, s.name)
    return paths
