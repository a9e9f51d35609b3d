"""The Higgs figures' contents, drawn on axes the caller gives (the current axes when None); each
function returns its artists (the ``hist``/``mplhep`` convention), so a notebook can put a ROC curve
or a score distribution into its own figure.  :mod:`hepml.tasks.higgs.plots` makes the files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hepml.metrics import RankedScores, ece, roc_curve
from hepml.models.registry import get_model
from hepml.plotting import panel_title
from hepml.plotting.hist import (
    CLASS_COLOURS,
    axes_or_current,
    clear_corner,
    draw_classes,
    feature_bins,
    per_bin_label,
    weighted_fraction,
)
from hepml.tasks.higgs.evaluate import OVERTRAINING_P, BundleScores, compared_events

__all__ = ["display_name", "ks_text", "draw_roc", "draw_roc_linear", "draw_scores", "draw_reliability",
           "draw_feature", "draw_correlations", "draw_importance", "draw_history", "FEATURESET_STYLES", "CLASS_NAMES",
           "WORKING_POINTS"]

FEATURESET_STYLES = {"low": ":", "high": "--", "all": "-"}
CLASS_NAMES: Mapping[int, str] = {1: "signal", 0: "background"}  # when the samples' names are not known
WORKING_POINTS = (0.5, 0.7, 0.9)


def display_name(s: BundleScores) -> str:
    """``DNN, all (28 features)``: what a note calls the model, not the bundle's folder name."""
    n = len(s.info.get("columns", []))
    return f"{get_model(s.model).display or s.model}, {s.featureset}" + (f" ({n} features)" if n else "")


def ks_text(statistic: float | None, pvalue: float | None) -> str:
    """The KS result with the precision it has: p = 0.34, p = 2.1e-05, never 'p = 0.000'."""
    if statistic is None or pvalue is None:
        return "KS n/a"
    shown = f"{pvalue:.2f}" if pvalue >= 0.01 else f"{pvalue:.1e}"
    return f"KS D = {statistic:.3f}, p = {shown}"


def _style(s: BundleScores) -> dict[str, Any]:
    return {"color": get_model(s.model).colour, "ls": FEATURESET_STYLES.get(s.featureset, "-"), "lw": 2}


def _rejection(ranked: RankedScores, grid: np.ndarray, weight: np.ndarray) -> np.ndarray:
    roc = ranked.roc(weight)
    return 1.0 / np.clip(np.interp(grid, roc.eff_s, roc.eff_b), 1e-9, None)


def _meaningful(s: BundleScores, rejection: np.ndarray, minimum: float = 10.0) -> np.ndarray:
    """Points where at least ``minimum`` effective background events pass: below, 1/eps_B is noise."""
    w = s.weight[s.label == 0]
    n_eff = np.sum(w) ** 2 / np.sum(w**2)
    return n_eff / rejection >= minimum


def draw_roc(scores: Sequence[BundleScores], reference: str | None = None, *, ax: Any = None, rax: Any = None,
             replicas: int = 20) -> list[Any]:
    """Background rejection 1/eps_B (log) against signal efficiency: colour per model, line style per
    feature set, the working points marked on the reference; with ``rax``, the ratio to the reference
    with a band of +-1 standard deviation from Poisson bootstrap replicas (the same replicas for both
    curves: a paired uncertainty).  Each curve stops where fewer than 10 effective background events
    pass."""
    ax = axes_or_current(ax)
    ref = next((s for s in scores if s.name == reference), scores[0])
    grid = np.linspace(0.02, 1.0, 250)
    rng = np.random.default_rng(0)
    boots = [ref.weight * rng.poisson(1.0, len(ref.weight)) for _ in range(replicas)] if rax is not None else []
    ranked_ref = RankedScores.of(ref.label, ref.raw)  # each model's events sorted once, for every replica
    base = _rejection(ranked_ref, grid, ref.weight)
    base_replicas = [_rejection(ranked_ref, grid, w) for w in boots]  # once, not once per model
    artists: list[Any] = []
    for s in scores:
        ranked = ranked_ref if s is ref else RankedScores.of(s.label, s.raw)
        rej = _rejection(ranked, grid, s.weight)
        ok = _meaningful(s, rej)
        # the uncertainty of metrics.json: the same replicas (hepml evaluate's default count and seed)
        label = (f"{display_name(s)}: AUC {ranked.auc(s.weight):.4f}"
                 f" ± {ranked.bootstrap_auc(s.weight):.4f}")
        artists += ax.plot(grid[ok], rej[ok], label=label, **_style(s))
        if rax is None:
            continue
        artists += rax.plot(grid[ok], (rej / base)[ok], **_style(s))
        if s is not ref and len(s.label) == len(ref.label):  # the same events: a paired band
            spread = np.std([_rejection(ranked, grid, w) / b for w, b in zip(boots, base_replicas)], axis=0)
            artists.append(rax.fill_between(grid[ok], (rej / base - spread)[ok], (rej / base + spread)[ok],
                                            color=_style(s)["color"], alpha=0.2, lw=0))
    for eff in WORKING_POINTS:
        value = float(np.interp(eff, grid, base))
        artists += ax.plot([eff], [value], "k*", ms=10)
        artists.append(ax.annotate(f"{value:.1f}", (eff, value), textcoords="offset points", xytext=(6, 6),
                                   fontsize=13))
    ax.set_yscale("log")
    ax.set_ylabel(r"Background rejection $1/\varepsilon_B$")
    ax.legend(fontsize=12, loc="upper right", title=r"$\star$: working points of the reference", title_fontsize=12)
    (rax if rax is not None else ax).set_xlabel(r"Signal efficiency $\varepsilon_S$")
    if rax is not None:
        rax.set_ylabel(f"ratio to\n{display_name(ref)}", fontsize=14)
        artists.append(rax.axhline(1.0, color="grey", lw=1))
    return artists


def draw_roc_linear(scores: Sequence[BundleScores], *, ax: Any = None) -> list[Any]:
    """Background efficiency against signal efficiency on linear axes, with the random classifier."""
    ax = axes_or_current(ax)
    artists: list[Any] = []
    for s in scores:
        roc = roc_curve(s.label, s.raw, s.weight)
        artists += ax.plot(roc.eff_s, roc.eff_b, label=display_name(s), **_style(s))
    artists += ax.plot([0, 1], [0, 1], color="grey", ls=":", label="random")
    ax.set_xlabel(r"Signal efficiency $\varepsilon_S$")
    ax.set_ylabel(r"Background efficiency $\varepsilon_B$")
    ax.legend(fontsize=14)
    return artists


def draw_scores(s: BundleScores, *, ax: Any = None, bins: int = 40,
                names: Mapping[int, str] = CLASS_NAMES) -> list[Any]:
    """Signal and background score distributions, test (fold 0) as lines with their uncertainty
    band and the fold-0 model's training events as points with error bars, the KS test per class
    (and the events behind it) in the legend; each class called by ``names`` (its samples)."""
    ax = axes_or_current(ax)
    edges = np.linspace(0, 1, bins + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    test = s.fold == 0
    n_test = {cls: int(np.sum(test & (s.label == cls))) for cls in (0, 1)}
    artists = draw_classes(s.raw[test], s.label[test], s.weight[test], edges, ax=ax, mark_flow=False,
                           classes=[(1, f"{names[1]}, test ({n_test[1]} events)"),
                                    (0, f"{names[0]}, test ({n_test[0]} events)")])
    train, verdict = s.training_scores(), s.overtraining_check
    ks = verdict["ks"]
    for (name, cls), colour in zip((("signal", 1), ("background", 0)), CLASS_COLOURS):  # as draw_classes colours them
        if train is None:
            continue
        rows = train["train_label"] == cls
        h, err = weighted_fraction(train["train_score"][rows], train["train_weight"][rows], edges)
        test_ks = ks.get(name, {})
        artists.append(ax.errorbar(centres, h, yerr=err, fmt="o", color=colour, ms=4,
                                   label=f"{names[cls]}, train ({int(rows.sum())}): "
                                         f"{ks_text(test_ks.get('statistic'), test_ks.get('pvalue'))}"))
    if ks:
        events = compared_events(ks, {"signal": names[1], "background": names[0]})
        artists += ax.plot([], [], " ", label=f"overtraining check ({events}, p < {OVERTRAINING_P / 2:g}): "
                                              + ("FLAGGED" if verdict["overtrained"] else "passed"))
    ax.set_xlabel(f"{display_name(s)}: output before calibration", fontsize=20)
    ax.set_ylabel(per_bin_label(edges))
    ax.set_yscale("log")
    low, high = ax.get_ylim()  # a bin of tiny weights (cross sections 3300x apart) must not squash the rest
    ax.set_ylim(max(low, high * 1e-6), high)
    ax.legend(fontsize=13)
    return artists


def draw_reliability(s: BundleScores, *, ax: Any = None, hax: Any = None, bins: int = 20) -> list[Any]:
    """Reliability diagram: weighted fraction of signal per bin of predicted probability, with the
    weights of the bundle's calibration prior (the convention its calibrated score follows), the
    binomial uncertainty from each bin's effective number of events, the ECE in the legend and,
    on ``hax``, the events per bin."""
    ax = axes_or_current(ax)
    weight = s.calibration_weight
    edges = np.linspace(0, 1, bins + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    artists: list[Any] = []
    for values, label, marker in ((s.raw, "before calibration", "s"), (s.score, "calibrated", "o")):
        idx = np.minimum((np.clip(values, 0, 1) * bins).astype(int), bins - 1)
        wsum, w2sum = np.bincount(idx, weight, bins), np.bincount(idx, weight**2, bins)
        filled = wsum > 0
        frac = np.divide(np.bincount(idx, weight * s.label, bins), wsum, out=np.full(bins, np.nan), where=filled)
        n_eff = np.divide(wsum**2, w2sum, out=np.zeros(bins), where=w2sum > 0)
        err = np.sqrt(np.clip(frac * (1 - frac), 0, None) / np.maximum(n_eff, 1))
        artists.append(ax.errorbar(centres[filled], frac[filled], yerr=err[filled], fmt=marker + "-", ms=5,
                                   label=f"{label}, ECE = {ece(s.label, values, weight):.4f}"))
        if hax is not None:
            artists.append(hax.stairs(np.bincount(idx, minlength=bins), edges, label=label))
    artists += ax.plot([0, 1], [0, 1], color="grey", ls=":", label="perfectly calibrated")
    ax.set_ylabel("observed signal fraction", fontsize=20)
    ax.legend(fontsize=14, title=f"{display_name(s)}, {s.prior} class prior", title_fontsize=14)
    (hax if hax is not None else ax).set_xlabel("predicted signal probability")
    if hax is not None:
        from matplotlib.ticker import NullFormatter

        hax.set_yscale("log")
        hax.yaxis.set_minor_formatter(NullFormatter())  # 3x10^4 beside 4x10^4 would overlap
        hax.set_ylabel("events / bin", fontsize=16)
    return artists


def draw_feature(values: np.ndarray, label: np.ndarray, weight: np.ndarray, *, ax: Any = None, xlabel: str = "",
                 unit: str = "", fontsize: float = 11, names: Mapping[int, str] = CLASS_NAMES) -> list[Any]:
    """One input feature, signal against background (called by ``names``), each normalised to one,
    in :func:`hepml.plotting.hist.feature_bins` (integer bins for counts, the central 99 % otherwise,
    with the folded under- and overflow marked)."""
    ax = axes_or_current(ax)
    bins = feature_bins(values)
    artists = draw_classes(values, label, weight, bins, ax=ax, fontsize=max(8.0, 0.6 * fontsize),
                           classes=[(1, names[1]), (0, names[0])])
    ax.set_xlabel(xlabel, fontsize=fontsize)
    ax.set_ylabel(per_bin_label(bins, unit), fontsize=fontsize)
    clear_corner(ax)
    return artists


def draw_correlations(X: np.ndarray, names: Sequence[str], *, ax: Any = None, title: str = "") -> list[Any]:
    """The linear correlation matrix of the columns of ``X``."""
    ax = axes_or_current(ax)
    image = ax.imshow(np.corrcoef(X.T), vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=11)
    ax.set_yticks(range(len(names)), names, fontsize=11)
    if title:
        panel_title(ax, title, fontsize=20)
    return [image]


def draw_importance(importance: Mapping[str, float], *, ax: Any = None,
                    labels: Mapping[str, str] | None = None) -> list[Any]:
    """Permutation importance: AUC lost when each feature is shuffled, largest at the top, each
    feature called by its ``labels`` entry (the spec's label) rather than its column name."""
    ax = axes_or_current(ax)
    items = sorted(importance.items(), key=lambda kv: kv[1])
    bars = ax.barh([(labels or {}).get(k, k) for k, _ in items], [v for _, v in items])
    ax.set_xlabel("AUC decrease when shuffled")
    ax.tick_params(axis="y", labelsize=9)
    return [bars]


def draw_history(history: Mapping[str, Mapping[str, Sequence[float]]], *, ax: Any = None,
                 step: str = "epoch") -> list[Any]:
    """Training (solid) and validation (dashed) loss per fold and ``step`` (epoch, or boosting
    iteration for trees), one colour per fold (ten before any repeats)."""
    ax = axes_or_current(ax)
    artists: list[Any] = []
    for i, (fold, curves) in enumerate(history.items()):
        for key, ls, what in (("loss", "-", "training"), ("val_loss", "--", "validation")):
            if key in curves:
                artists += ax.plot(np.arange(1, len(curves[key]) + 1), curves[key], ls, color=f"C{i % 10}",
                                   label=f"{fold.replace('fold', 'fold ')}, {what}")
    ax.set_xlabel(step)
    ax.set_ylabel("weighted loss")
    ax.legend(fontsize=13, ncols=2)
    return artists
