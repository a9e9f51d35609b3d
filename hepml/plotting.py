"""Figures for a physics note (matplotlib + mplhep), each written as PDF and PNG.

All inputs are files the pipeline saved (bundles' out-of-fold scores, feature files), so
``hepml plot`` remakes every figure without retraining.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402

from hepml.evaluation import BundleScores, load_scores, ks_summary  # noqa: E402
from hepml.io.atomic import atomic_path  # noqa: E402
from hepml.metrics import auc, bootstrap_auc, roc_curve  # noqa: E402

__all__ = ["plot_roc", "plot_scores", "plot_reliability", "plot_features", "plot_correlations",
           "plot_importance", "plot_history", "make_plots"]

mplhep.style.use("ROOT")


def _save(fig: Any, out: Path, name: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("pdf", "png"):
        target = out / f"{name}.{ext}"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=ext, bbox_inches="tight", dpi=110)
        paths.append(target)
    plt.close(fig)
    return paths


def plot_roc(scores: list[BundleScores], out: Path, reference: str | None = None) -> list[Path]:
    """Background rejection 1/eps_B (log) against signal efficiency, with a ratio to the reference."""
    ref = next((s for s in scores if s.name == reference), scores[0])
    fig, (ax, rax) = plt.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]}, figsize=(8, 8))
    grid = np.linspace(0.05, 1.0, 200)

    def rejection(s: BundleScores) -> np.ndarray:
        roc = roc_curve(s.label, s.raw, s.weight)
        eff_b = np.interp(grid, roc.eff_s, roc.eff_b)
        return 1.0 / np.clip(eff_b, 1e-6, None)

    base = rejection(ref)
    for s in scores:
        rej = rejection(s)
        label = f"{s.model.upper()} {s.featureset}: AUC = {auc(s.label, s.raw, s.weight):.4f} ± {bootstrap_auc(s.label, s.raw, s.weight, n=20):.4f}"
        ax.plot(grid, rej, label=label, lw=2, ls="-" if s.model == "dnn" else "--")
        rax.plot(grid, rej / base, lw=2, ls="-" if s.model == "dnn" else "--")
    ax.set_yscale("log")
    ax.set_ylabel(r"Background rejection $1/\varepsilon_B$")
    ax.legend(fontsize=11, loc="upper right")
    rax.set_xlabel(r"Signal efficiency $\varepsilon_S$")
    rax.set_ylabel(f"ratio to {ref.name}", fontsize=12)
    rax.axhline(1.0, color="grey", lw=1)
    return _save(fig, out, "roc")


def plot_scores(s: BundleScores, out: Path) -> list[Path]:
    """Signal and background score distributions, train (fold-0 model) vs test, with KS p-values."""
    train = s.overtraining()
    ks = ks_summary(s)
    fig, ax = plt.subplots(figsize=(8, 6))
    bins = np.linspace(0, 1, 41)
    for name, cls, colour in (("signal", 1, "tab:red"), ("background", 0, "tab:blue")):
        test = (s.fold == 0) & (s.label == cls)
        ax.hist(s.raw[test], bins, weights=s.weight[test], density=True, histtype="step", color=colour, lw=2,
                label=f"{name} (test)")
        if train is not None:
            rows = train["train_label"] == cls
            h, _ = np.histogram(train["train_score"][rows], bins, weights=train["train_weight"][rows], density=True)
            centres = 0.5 * (bins[1:] + bins[:-1])
            p = ks.get(name, {}).get("pvalue", float("nan"))
            ax.plot(centres, h, "o", color=colour, ms=4, label=f"{name} (train), KS p = {p:.3f}")
    ax.set_xlabel(f"{s.name} score (uncalibrated)")
    ax.set_ylabel("normalised events")
    ax.set_yscale("log")
    ax.legend(fontsize=11)
    return _save(fig, out, f"scores_{s.name}")


def plot_reliability(s: BundleScores, out: Path, bins: int = 15) -> list[Path]:
    """Reliability diagram: weighted fraction of signal per bin of predicted probability."""
    fig, ax = plt.subplots(figsize=(7, 7))
    edges = np.linspace(0, 1, bins + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    for values, label in ((s.raw, "uncalibrated"), (s.score, "calibrated")):
        idx = np.minimum((np.clip(values, 0, 1) * bins).astype(int), bins - 1)
        wsum = np.bincount(idx, s.weight, bins)
        frac = np.divide(np.bincount(idx, s.weight * s.label, bins), wsum, out=np.full(bins, np.nan), where=wsum != 0)
        ax.plot(centres, frac, "o-", label=label)
    ax.plot([0, 1], [0, 1], color="grey", ls=":", label="perfect")
    ax.set_xlabel("predicted signal probability")
    ax.set_ylabel("observed signal fraction")
    ax.legend(fontsize=12)
    return _save(fig, out, f"reliability_{s.name}")


def _read_features(files: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    import uproot

    X, y, w, names = [], [], [], None
    for file in files:
        with uproot.open(file) as f:
            tree = f["features"]
            cols = [k for k in tree.keys() if k not in ("weight", "label", "run", "luminosityBlock", "event")]
            arrays = tree.arrays(cols + ["weight", "label"], library="np")
        names = cols
        X.append(np.stack([arrays[c] for c in cols], axis=1))
        y.append(arrays["label"])
        w.append(arrays["weight"])
    return np.concatenate(X), np.concatenate(y), np.concatenate(w), list(names or [])


def plot_features(X: np.ndarray, y: np.ndarray, w: np.ndarray, names: list[str], out: Path) -> list[Path]:
    """Input-feature distributions, signal against background, normalised."""
    ncol = 6
    nrow = int(np.ceil(len(names) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4 * ncol, 3.2 * nrow))
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        if i >= len(names):
            ax.axis("off")
            continue
        lo, hi = np.percentile(X[:, i], [0.5, 99.5])
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 40)
        for cls, colour, label in ((1, "tab:red", "signal"), (0, "tab:blue", "background")):
            rows = y == cls
            ax.hist(X[rows, i], bins, weights=w[rows], density=True, histtype="step", color=colour, lw=1.5, label=label)
        ax.set_xlabel(names[i], fontsize=11)
        ax.tick_params(labelsize=8)
    np.atleast_1d(axes).ravel()[0].legend(fontsize=9)
    fig.tight_layout()
    return _save(fig, out, "features")


def plot_correlations(X: np.ndarray, y: np.ndarray, names: list[str], out: Path) -> list[Path]:
    """Linear correlation matrices of the inputs for signal and for background."""
    fig, axes = plt.subplots(1, 2, figsize=(22, 10))
    for ax, cls, title in ((axes[0], 1, "signal"), (axes[1], 0, "background")):
        corr = np.corrcoef(X[y == cls].T)
        im = ax.imshow(corr, vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_title(f"correlations, {title}")
    fig.colorbar(im, ax=axes, shrink=0.8)
    return _save(fig, out, "correlations")


def plot_importance(importance: dict[str, float], out: Path, name: str) -> list[Path]:
    """Permutation importance: AUC lost when each feature is shuffled."""
    items = sorted(importance.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(8, max(4, 0.3 * len(items))))
    ax.barh([k for k, _ in items], [v for _, v in items])
    ax.set_xlabel("AUC decrease when shuffled")
    ax.tick_params(axis="y", labelsize=9)
    return _save(fig, out, f"importance_{name}")


def plot_history(history: dict[str, dict[str, list[float]]], out: Path, name: str) -> list[Path]:
    fig, ax = plt.subplots(figsize=(8, 6))
    for fold, curves in history.items():
        for key, ls in (("loss", "-"), ("val_loss", "--")):
            if key in curves:
                ax.plot(np.arange(1, len(curves[key]) + 1), curves[key], ls, label=f"{fold} {key}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("weighted loss")
    ax.legend(fontsize=10)
    return _save(fig, out, f"history_{name}")


def make_plots(bundles: list[str], features: list[str], out: str | os.PathLike[str],
               reference: str | None = None) -> list[Path]:
    """Every figure of the Higgs task from saved inputs."""
    out = Path(out)
    scores = [load_scores(b) for b in bundles]
    ref = next((s for s in scores if s.name == reference), scores[0])
    paths = plot_roc(scores, out, ref.name)
    paths += plot_scores(ref, out) + plot_reliability(ref, out)
    if features:
        X, y, w, names = _read_features(features)
        paths += plot_features(X, y, w, names, out) + plot_correlations(X, y, names, out)
    for s in scores:
        for file, plot in (("importance.json", plot_importance), ("history.json", plot_history)):
            data_file = s.path / file
            if data_file.exists():
                data = json.loads(data_file.read_text())
                if data and any(data.values()):
                    paths += plot(data, out, s.name)
    return paths


def plot_event_displays(bundle: str | os.PathLike[str], events_file: str, out: Path, n: int = 3) -> list[Path]:
    """Event displays: for each of the first ``n`` events, the three planes' input charge, true
    labels and predicted labels (background / cosmic / neutrino)."""
    import uproot
    from matplotlib.colors import ListedColormap

    from hepml.io.images import PIXEL_BRANCHES, densify
    from hepml.segmentation import _predict, load_segmenter

    model, info = load_segmenter(bundle)
    shape = tuple(info["shape"])
    arrays = uproot.open(events_file)["Events"].arrays([*PIXEL_BRANCHES, "event"], entry_stop=n)
    charge, labels = densify(arrays, shape)
    predicted = np.argmax(_predict(model, charge), axis=-1)
    predicted = np.where(charge > 0, predicted, 0)
    cmap = ListedColormap(["white", "tab:blue", "tab:red"])
    paths = []
    for i in range(len(charge)):
        fig, axes = plt.subplots(3, shape[0], figsize=(5 * shape[0], 14))
        for p in range(shape[0]):
            axes[0, p].imshow(charge[i, p].T, origin="lower", cmap="viridis", vmin=0, vmax=3, aspect="auto")
            axes[1, p].imshow(labels[i, p].T, origin="lower", cmap=cmap, vmin=0, vmax=2, aspect="auto", interpolation="nearest")
            axes[2, p].imshow(predicted[i, p].T, origin="lower", cmap=cmap, vmin=0, vmax=2, aspect="auto", interpolation="nearest")
            axes[0, p].set_title(f"plane {p}", fontsize=14)
            axes[2, p].set_xlabel("wire", fontsize=12)
        for row, name in enumerate(("charge", "truth", "prediction")):
            axes[row, 0].set_ylabel(f"{name}\ntick", fontsize=12)
        fig.suptitle(f"event {int(arrays.event[i])}: blue cosmic, red neutrino", fontsize=16)
        paths += _save(fig, out, f"event_display_{i}")
    return paths


def plot_dann(folder: str | os.PathLike[str], out: str | os.PathLike[str],
              classes: tuple[str, str] = ("signal", "background"), xlabel: str = "score") -> list[Path]:
    """DANN figures from a saved run: score distributions of each model in both domains (``classes``
    name truth 1 and 0), and lambda, learning rate and both losses over training."""
    folder, out = Path(folder), Path(out)
    with np.load(folder / "scores.npz", allow_pickle=False) as data:
        scores = {k: data[k] for k in data.files}
    history = json.loads((folder / "history.json").read_text())
    models = ("source_only", "dann", "oracle")
    fig, axes = plt.subplots(2, 3, figsize=(18, 10), sharex=True)
    bins = np.linspace(0, 1, 31)
    for col, model in enumerate(models):
        for row, domain in enumerate(("source", "target")):
            ax = axes[row, col]
            y, w = scores[f"label_{domain}"], scores[f"weight_{domain}"]
            for cls, colour, name in ((1, "tab:red", classes[0]), (0, "tab:blue", classes[1])):
                rows = y == cls
                ax.hist(scores[f"{model}_{domain}"][rows], bins, weights=w[rows], density=True, histtype="step",
                        color=colour, lw=2, label=name)
            ax.set_title(f"{model}, {domain}", fontsize=14)
            ax.legend(fontsize=10)
    for ax in axes[1]:
        ax.set_xlabel(xlabel)
    paths = _save(fig, out, "dann_scores")
    log = history["dann"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 6))
    epochs = np.arange(1, len(log["lambda"]) + 1)
    ax1.plot(epochs, log["lambda"], "o-", label=r"$\lambda$")
    ax1.plot(epochs, np.asarray(log["learning_rate"]) / max(log["learning_rate"]), "s-", label="learning rate / max")
    ax1.set_xlabel("epoch")
    ax1.legend(fontsize=12)
    ax2.plot(epochs, log["task_loss"], "o-", label="task loss (source)")
    ax2.plot(epochs, log["domain_loss"], "s-", label="domain loss (source + target)")
    ax2.axhline(np.log(2), color="grey", ls=":", label="ln 2: domains indistinguishable")
    ax2.set_xlabel("epoch")
    ax2.legend(fontsize=12)
    return paths + _save(fig, out, "dann_training")
