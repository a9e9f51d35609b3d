"""Figures for a physics note (matplotlib + mplhep), each written as PDF and PNG.

All inputs are files the pipeline saved (bundles' out-of-fold scores, feature files), so
``hepml plot`` remakes every figure without retraining.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from hepml.bundle import load_spec
from hepml.features.files import read_features
from hepml.metrics import auc, bootstrap_auc, ece, roc_curve
from hepml.models.registry import get_model
from hepml.plotting import figure, save
from hepml.tasks.higgs.evaluate import BundleScores, ks_summary, load_scores

__all__ = ["display_name", "plot_roc", "plot_scores", "plot_reliability", "plot_features", "plot_correlations",
           "plot_importance", "plot_history", "make_plots", "ks_text", "feature_bins"]


FEATURESET_STYLES = {"low": ":", "high": "--", "all": "-"}
WORKING_POINTS = (0.5, 0.7, 0.9)


def display_name(s: BundleScores) -> str:
    """``DNN, all features``: what a note calls the model, not the bundle's folder name."""
    return f"{get_model(s.model).display or s.model}, {s.featureset} features"


def _rejection(s: BundleScores, grid: np.ndarray, weight: np.ndarray) -> np.ndarray:
    roc = roc_curve(s.label, s.raw, weight)
    return 1.0 / np.clip(np.interp(grid, roc.eff_s, roc.eff_b), 1e-9, None)


def _meaningful(s: BundleScores, rejection: np.ndarray, minimum: float = 10.0) -> np.ndarray:
    """Points where at least ``minimum`` effective background events pass: below, 1/eps_B is noise."""
    w = s.weight[s.label == 0]
    n_eff = np.sum(w) ** 2 / np.sum(w**2)
    return n_eff / rejection >= minimum


def plot_roc(scores: list[BundleScores], out: Path, reference: str | None = None, *, replicas: int = 20) -> list[Path]:
    """Background rejection 1/eps_B (log) against signal efficiency: colour per model, line style per
    feature set, the working points marked on the reference, and a ratio panel to the reference with
    a band of +-1 standard deviation from Poisson bootstrap replicas (the same replicas for both
    curves: a paired uncertainty).  Each curve stops where fewer than 10 effective background events
    pass.  Also a linear eps_B against eps_S version (``roc_linear``)."""
    ref = next((s for s in scores if s.name == reference), scores[0])
    colours = {s.model: get_model(s.model).colour for s in scores}
    grid = np.linspace(0.02, 1.0, 250)
    rng = np.random.default_rng(0)
    boots = [ref.weight * rng.poisson(1.0, len(ref.weight)) for _ in range(replicas)]
    with figure(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.2]}, figsize=(8, 8)) as (fig, (ax, rax)):
        base = _rejection(ref, grid, ref.weight)
        base_replicas = [_rejection(ref, grid, w) for w in boots]  # once, not once per model
        for s in scores:
            rej = _rejection(s, grid, s.weight)
            ok = _meaningful(s, rej)
            style = {"color": colours[s.model], "ls": FEATURESET_STYLES.get(s.featureset, "-"), "lw": 2}
            label = (f"{display_name(s)}: AUC {auc(s.label, s.raw, s.weight):.4f}"
                     f" ± {bootstrap_auc(s.label, s.raw, s.weight, n=replicas):.4f}")
            ax.plot(grid[ok], rej[ok], label=label, **style)
            rax.plot(grid[ok], (rej / base)[ok], **style)
            if s is not ref and len(s.label) == len(ref.label):  # the same events: a paired band
                spread = np.std([_rejection(s, grid, w) / b for w, b in zip(boots, base_replicas)], axis=0)
                rax.fill_between(grid[ok], (rej / base - spread)[ok], (rej / base + spread)[ok],
                                 color=colours[s.model], alpha=0.2, lw=0)
        for eff in WORKING_POINTS:
            value = float(np.interp(eff, grid, base))
            ax.plot([eff], [value], "k*", ms=10)
            ax.annotate(f"{value:.1f}", (eff, value), textcoords="offset points", xytext=(6, 6), fontsize=11)
        ax.set_yscale("log")
        ax.set_ylabel(r"Background rejection $1/\varepsilon_B$")
        ax.legend(fontsize=10, loc="upper right", title=r"$\star$: working points of the reference", title_fontsize=10)
        rax.set_xlabel(r"Signal efficiency $\varepsilon_S$")
        rax.set_ylabel(f"ratio to\n{display_name(ref)}", fontsize=11)
        rax.axhline(1.0, color="grey", lw=1)
        paths = save(fig, out, "roc")
    with figure(figsize=(7, 7)) as (fig, ax):
        for s in scores:
            roc = roc_curve(s.label, s.raw, s.weight)
            ax.plot(roc.eff_s, roc.eff_b, color=colours[s.model], ls=FEATURESET_STYLES.get(s.featureset, "-"), lw=2,
                    label=display_name(s))
        ax.plot([0, 1], [0, 1], color="grey", ls=":", label="random")
        ax.set_xlabel(r"Signal efficiency $\varepsilon_S$")
        ax.set_ylabel(r"Background efficiency $\varepsilon_B$")
        ax.legend(fontsize=11)
        return paths + save(fig, out, "roc_linear")


def weighted_fraction(values: np.ndarray, weights: np.ndarray, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin fraction of the total weight and its uncertainty sqrt(sum w^2) / sum w."""
    total = np.sum(weights)
    counts, _ = np.histogram(values, bins, weights=weights)
    sumw2, _ = np.histogram(values, bins, weights=weights**2)
    return counts / total, np.sqrt(sumw2) / abs(total)


def plot_scores(s: BundleScores, out: Path) -> list[Path]:
    """Signal and background score distributions, test (fold 0) as lines and the fold-0 model's
    training events as points with their weighted uncertainties, and the KS test per class."""
    train = s.overtraining()
    ks = ks_summary(s)
    with figure(figsize=(8, 6)) as (fig, ax):
        bins = np.linspace(0, 1, 41)
        centres = 0.5 * (bins[1:] + bins[:-1])
        for name, cls, colour in (("signal", 1, "tab:red"), ("background", 0, "tab:blue")):
            test = (s.fold == 0) & (s.label == cls)
            fraction, _ = weighted_fraction(s.raw[test], s.weight[test], bins)
            ax.stairs(fraction, bins, color=colour, lw=2, label=f"{name}, test ({int(test.sum())} events)")
            if train is not None:
                rows = train["train_label"] == cls
                h, err = weighted_fraction(train["train_score"][rows], train["train_weight"][rows], bins)
                test_ks = ks.get(name, {})
                ax.errorbar(centres, h, yerr=err, fmt="o", color=colour, ms=4,
                            label=f"{name}, train: {ks_text(test_ks.get('statistic'), test_ks.get('pvalue'))}")
        ax.set_xlabel(f"{s.name} network output (before calibration)")
        ax.set_ylabel(f"fraction of events / {bins[1] - bins[0]:.3g}")
        ax.set_yscale("log")
        ax.legend(fontsize=11)
        return save(fig, out, f"scores_{s.name}")


def plot_reliability(s: BundleScores, out: Path, bins: int = 15) -> list[Path]:
    """Reliability diagram: weighted fraction of signal per bin of predicted probability, with the
    weights of the bundle's calibration prior (the convention its calibrated score follows), the
    binomial uncertainty from each bin's effective number of events, the ECE in the legend and
    the events per bin below."""
    weight = s.calibration_weight
    with figure(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]}, figsize=(7, 8)) as (fig, (ax, hax)):
        edges = np.linspace(0, 1, bins + 1)
        centres = 0.5 * (edges[1:] + edges[:-1])
        for values, label, marker in ((s.raw, "before calibration", "s"), (s.score, "calibrated", "o")):
            idx = np.minimum((np.clip(values, 0, 1) * bins).astype(int), bins - 1)
            wsum, w2sum = np.bincount(idx, weight, bins), np.bincount(idx, weight**2, bins)
            filled = wsum > 0
            frac = np.divide(np.bincount(idx, weight * s.label, bins), wsum, out=np.full(bins, np.nan), where=filled)
            n_eff = np.divide(wsum**2, w2sum, out=np.zeros(bins), where=w2sum > 0)
            err = np.sqrt(np.clip(frac * (1 - frac), 0, None) / np.maximum(n_eff, 1))
            ax.errorbar(centres[filled], frac[filled], yerr=err[filled], fmt=marker + "-", ms=5,
                        label=f"{label}, ECE = {ece(s.label, values, weight):.4f}")
            hax.stairs(np.bincount(idx, minlength=bins), edges, label=label)
        ax.plot([0, 1], [0, 1], color="grey", ls=":", label="perfectly calibrated")
        ax.set_ylabel("observed signal fraction", fontsize=20)
        ax.legend(fontsize=11, title=f"{s.name}, {s.prior} class prior", title_fontsize=11)
        hax.set_yscale("log")
        hax.set_xlabel("predicted signal probability")
        hax.set_ylabel("events / bin", fontsize=11)
        return save(fig, out, f"reliability_{s.name}")


def ks_text(statistic: float | None, pvalue: float | None) -> str:
    """The KS result with the precision it has: p = 0.34, p = 2.1e-05, never 'p = 0.000'."""
    if statistic is None or pvalue is None:
        return "KS n/a"
    shown = f"{pvalue:.2f}" if pvalue >= 0.01 else f"{pvalue:.1e}"
    return f"KS D = {statistic:.3f}, p = {shown}"


def feature_bins(values: np.ndarray) -> np.ndarray:
    """Integer-centred bins for discrete features (counts, b-tag decisions), otherwise 40 bins over
    the central 99 % (0.5 to 99.5 % quantiles), so a long tail does not squash the peak."""
    finite = values[np.isfinite(values)]
    distinct = np.unique(finite[: 100_000])
    if len(distinct) <= 30 and np.all(distinct == np.round(distinct)):
        return np.arange(distinct.min() - 0.5, distinct.max() + 1.5)
    lo, hi = np.percentile(finite, [0.5, 99.5]) if len(finite) else (0.0, 1.0)
    return np.linspace(lo, hi if hi > lo else lo + 1, 41)


def plot_features(X: np.ndarray, y: np.ndarray, w: np.ndarray, names: list[str], out: Path,
                  labels: list[str] | None = None) -> list[Path]:
    """Input-feature distributions, signal against background, each class normalised to one;
    axes labelled with the spec's ``label`` and ``unit`` (``labels``), the y axis per bin width."""
    labels = labels or names
    ncol = 6
    nrow = int(np.ceil(len(names) / ncol))
    with figure(nrow, ncol, figsize=(4 * ncol, 3.2 * nrow)) as (fig, axes):
        for i, ax in enumerate(np.atleast_1d(axes).ravel()):
            if i >= len(names):
                ax.axis("off")
                continue
            bins = feature_bins(X[:, i])
            for cls, colour, label in ((1, "tab:red", "signal"), (0, "tab:blue", "background")):
                rows = y == cls
                ax.hist(X[rows, i], bins, weights=w[rows] / np.sum(w[rows]), histtype="step", color=colour, lw=1.5,
                        label=label)
            ax.set_xlabel(labels[i], fontsize=11)
            unit = labels[i].rsplit("[", 1)[1].rstrip("]") if labels[i].endswith("]") else ""
            ax.set_ylabel(f"fraction / {bins[1] - bins[0]:.3g} {unit}".rstrip(), fontsize=10)
            ax.tick_params(labelsize=8)
        np.atleast_1d(axes).ravel()[0].legend(fontsize=9)
        fig.tight_layout()
        return save(fig, out, "features")


def plot_correlations(X: np.ndarray, y: np.ndarray, names: list[str], out: Path) -> list[Path]:
    """Linear correlation matrices of the inputs for signal and for background."""
    with figure(1, 2, figsize=(22, 10)) as (fig, axes):
        for ax, cls, title in ((axes[0], 1, "signal"), (axes[1], 0, "background")):
            corr = np.corrcoef(X[y == cls].T)
            im = ax.imshow(corr, vmin=-1, vmax=1, cmap="RdBu_r")
            ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
            ax.set_yticks(range(len(names)), names, fontsize=8)
            ax.set_title(f"correlations, {title}")
        fig.colorbar(im, ax=axes, shrink=0.8)
        return save(fig, out, "correlations")


def plot_importance(importance: dict[str, float], out: Path, name: str) -> list[Path]:
    """Permutation importance: AUC lost when each feature is shuffled."""
    items = sorted(importance.items(), key=lambda kv: kv[1])
    with figure(figsize=(8, max(4, 0.3 * len(items)))) as (fig, ax):
        ax.barh([k for k, _ in items], [v for _, v in items])
        ax.set_xlabel("AUC decrease when shuffled")
        ax.tick_params(axis="y", labelsize=9)
        return save(fig, out, f"importance_{name}")


def plot_history(history: dict[str, dict[str, list[float]]], out: Path, name: str) -> list[Path]:
    with figure(figsize=(8, 6)) as (fig, ax):
        for fold, curves in history.items():
            for key, ls in (("loss", "-"), ("val_loss", "--")):
                if key in curves:
                    ax.plot(np.arange(1, len(curves[key]) + 1), curves[key], ls, label=f"{fold} {key}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("weighted loss")
        ax.legend(fontsize=10)
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
        spec = load_spec(ref.path)
        table = read_features(features, spec.columns)
        paths += plot_features(table.X, table.label, table.weight, table.names, out,
                               [spec.axis_label(n) for n in table.names])
        paths += plot_correlations(table.X, table.label, table.names, out)
    for s in scores:
        for file, plot in (("importance.json", plot_importance), ("history.json", plot_history)):
            data_file = s.path / file
            if data_file.exists():
                data = json.loads(data_file.read_text())
                if data and any(data.values()):
                    paths += plot(data, out, s.name)
    return paths
