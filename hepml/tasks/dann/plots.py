"""DANN figures from a saved study run: score distributions per model and domain, and the training."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from hepml.plotting import figure, save

__all__ = ["plot_dann"]


def plot_dann(folder: str | os.PathLike[str], out: str | os.PathLike[str],
              classes: tuple[str, str] = ("signal", "background"), xlabel: str = "score") -> list[Path]:
    """DANN figures from a saved run: score distributions of each model in both domains (``classes``
    name truth 1 and 0), and lambda, learning rate and both losses over training."""
    folder, out = Path(folder), Path(out)
    with np.load(folder / "scores.npz", allow_pickle=False) as data:
        scores = {k: data[k] for k in data.files}
    history = json.loads((folder / "history.json").read_text())
    models = ("source_only", "dann", "oracle")
    paths: list[Path] = []
    with figure(2, 3, figsize=(18, 10), sharex=True) as (fig, axes):
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
        paths += save(fig, out, "dann_scores")
    return paths + _training_figure(history["dann"], out)


def _training_figure(log: dict[str, list[float]], out: Path) -> list[Path]:
    """lambda, learning rate and both losses of the DANN training over the epochs."""
    with figure(1, 2, figsize=(14, 6)) as (fig, (ax1, ax2)):
        epochs = np.arange(1, len(log["lambda"]) + 1)
        ax1.plot(epochs, log["lambda"], "o-", label=r"$\lambda$")
        ax1.plot(
            epochs, np.asarray(log["learning_rate"]) / max(log["learning_rate"]), "s-", label="learning rate / max"
        )
        ax1.set_xlabel("epoch")
        ax1.legend(fontsize=12)
        ax2.plot(epochs, log["task_loss"], "o-", label="task loss (source)")
        ax2.plot(epochs, log["domain_loss"], "s-", label="domain loss (source + target)")
        ax2.axhline(np.log(2), color="grey", ls=":", label="ln 2: domains indistinguishable")
        ax2.set_xlabel("epoch")
        ax2.legend(fontsize=12)
        return save(fig, out, "dann_training")
