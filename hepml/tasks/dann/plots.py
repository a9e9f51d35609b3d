"""DANN figures from a saved study run: score distributions per model and domain, and the training.

:func:`draw_domain_scores` draws one model in one domain on axes the caller gives and returns its
artists, with the conventions of the Higgs score figures (each class normalised, weighted
uncertainty band, bin width on the y axis, AUC and event counts in the legend).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from hepml.metrics import auc
from hepml.plotting import figure, header_axes, save, without_beam
from hepml.plotting.hist import CLASS_COLOURS, axes_or_current, draw_classes, per_bin_label

__all__ = ["plot_dann", "draw_domain_scores", "draw_suite", "plot_suite", "MODEL_NAMES", "DOMAIN_NAMES"]

MODEL_NAMES = {"source_only": "simulation only", "dann": "DANN", "no_adversary": r"DANN, $\lambda = 0$",
               "oracle": "oracle (target labels)"}  # what each network was trained on
DOMAIN_NAMES = {"source": "simulation", "target": "pseudo-data"}


def draw_domain_scores(scores: Mapping[str, np.ndarray], model: str, domain: str, *, ax: Any = None,
                       classes: tuple[str, str] = ("signal", "background"), what: str = "events",
                       bins: int = 30) -> list[Any]:
    """The output of ``model`` on ``domain``'s test ``what`` (events, pixels), truth 1 and 0
    (``classes``) each normalised to one; the model and domain top left, the AUC in the legend."""
    ax = axes_or_current(ax)
    y, w, values = scores[f"label_{domain}"], scores[f"weight_{domain}"], scores[f"{model}_{domain}"]
    edges = np.linspace(0, 1, bins + 1)
    artists = draw_classes(values, y, w, edges, ax=ax, classes=[(1, classes[0]), (0, classes[1])], mark_flow=False)
    artists.append(ax.text(0.03, 0.96, f"{MODEL_NAMES.get(model, model)}\non {DOMAIN_NAMES.get(domain, domain)}",
                           transform=ax.transAxes, va="top", fontsize=14))
    ax.legend(fontsize=14, loc="upper right", title=f"AUC {auc(y, values, w):.4f}\n{len(y)} {what}",
              title_fontsize=14)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.5)  # room above the histograms for the text and the legend
    ax.set_ylabel(per_bin_label(edges, what=f"fraction of {what}"), fontsize=17)
    return artists


def plot_dann(folder: str | os.PathLike[str], out: str | os.PathLike[str],
              classes: tuple[str, str] = ("signal", "background"), xlabel: str = "network output", *,
              what: str = "events", beam: bool = True) -> list[Path]:
    """``dann_scores``: each model's output on the test ``what`` of both domains (``classes`` name
    truth 1 and 0); ``dann_training``: lambda, learning rate and both losses over training.  With
    ``beam=False`` (LArTPC) the figure label has no beam energy or luminosity."""
    folder, out = Path(folder), Path(out)
    with np.load(folder / "scores.npz", allow_pickle=False) as data:
        scores = {k: data[k] for k in data.files}
    history = json.loads((folder / "history.json").read_text())
    models = ("source_only", "dann", "oracle")
    with figure(2, 3, figsize=(16, 10), sharex=True) as (fig, axes), (nullcontext() if beam else without_beam()):
        for col, model in enumerate(models):
            for row, domain in enumerate(("source", "target")):
                draw_domain_scores(scores, model, domain, ax=axes[row, col], classes=classes, what=what)
                if col:
                    axes[row, col].set_ylabel("")
        for ax in axes[1]:
            ax.set_xlabel(xlabel, fontsize=18)
        fig.tight_layout()
        return (save(fig, out, "dann_scores", label_axes=header_axes(fig, axes[0, 0], axes[0, -1]))
                + _training_figure(history["dann"], out))


def _training_figure(log: dict[str, list[float]], out: Path) -> list[Path]:
    """lambda, learning rate and both losses of the DANN training over the epochs."""
    with figure(1, 2, figsize=(14, 6)) as (fig, (ax1, ax2)):
        epochs = np.arange(1, len(log["lambda"]) + 1)
        ax1.plot(epochs, log["lambda"], "o-", label=r"$\lambda$ (weight of the reversed gradient)")
        ax1.plot(
            epochs, np.asarray(log["learning_rate"]) / max(log["learning_rate"]), "s-", label="learning rate / maximum"
        )
        ax1.set_xlabel("epoch")
        ax1.set_ylabel("schedule")
        ax1.legend(fontsize=15)
        ax2.plot(epochs, log["task_loss"], "o-", label="task loss (source)")
        ax2.plot(epochs, log["domain_loss"], "s-", label="domain loss (source + target)")
        ax2.axhline(np.log(2), color="grey", ls=":", label="ln 2: domains indistinguishable")
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("weighted loss")
        ax2.legend(fontsize=15)
        fig.tight_layout()
        return save(fig, out, "dann_training")


def draw_suite(studies: Mapping[str, Mapping[str, Any]], *, ax: Any = None, figure_of_merit: str = "target AUC",
               ) -> list[Any]:
    """Each study's (shift's) target figure of merit per model, mean with the spread over seeds as
    error bar, and the gap closed of the means written below it."""
    ax = axes_or_current(ax)
    artists: list[Any] = []
    names = list(studies)
    models = ("source_only", "no_adversary", "dann", "oracle")
    for i, model in enumerate(models):
        x = np.arange(len(names)) + (i - 1.5) * 0.15
        stats = [studies[name]["summary"].get(f"target.{model}", {}) for name in names]
        mean = [st.get("mean", np.nan) for st in stats]
        err = [st.get("std") or 0.0 for st in stats]
        artists.append(ax.errorbar(x, mean, yerr=err, fmt="osD^"[i], ms=9, capsize=4, ls="none",
                                   color=CLASS_COLOURS[i % len(CLASS_COLOURS)], label=MODEL_NAMES[model]))
    for j, name in enumerate(names):
        summary = studies[name]["summary"]
        closed = summary.get("gap_closed_of_means")
        text = "no significant gap" if closed is None else f"gap closed {100 * closed:.0f} %"
        artists.append(ax.annotate(f"{text}\n{summary['seeds']} seed(s)", (j, 0.0), xycoords=("data", "axes fraction"),
                                   xytext=(0, 6), textcoords="offset points", ha="center", va="bottom", fontsize=13))
    ax.set_xticks(range(len(names)), names, fontsize=16)
    ax.set_xlim(-0.5, len(names) - 0.5)
    low, high = ax.get_ylim()
    ax.set_ylim(low - 0.25 * (high - low), high + 0.2 * (high - low))  # the texts below, the legend above
    ax.set_ylabel(f"{figure_of_merit} (mean $\\pm$ spread over seeds)", fontsize=16)
    ax.legend(fontsize=12, loc="upper center", ncol=4, handletextpad=0.2, columnspacing=0.8)
    return artists


def plot_suite(studies: Mapping[str, Mapping[str, Any]], out: str | os.PathLike[str], name: str = "dann_suite",
               **kwargs: Any) -> list[Path]:
    """:func:`draw_suite` as a figure of its own (``name``.pdf / .png in ``out``)."""
    with figure(figsize=(max(8, 3.5 * len(studies)), 7)) as (fig, ax):
        draw_suite(studies, ax=ax, **kwargs)
        ax.set_xlabel("pseudo-data (target)", fontsize=16)
        fig.tight_layout()
        return save(fig, Path(out), name)
