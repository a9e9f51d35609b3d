"""Event displays of the cosmic tagger: input charge, truth and prediction on each wire plane."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hepml.io.images import PIXEL_BRANCHES, densify
from hepml.io.read import Source, iterate
from hepml.plotting import figure, save
from hepml.tasks.cosmic.score import load_segmenter, predict_pixels

__all__ = ["plot_event_displays"]


def plot_event_displays(bundle: str | os.PathLike[str], events_file: str, out: Path, n: int = 3) -> list[Path]:
    """For each of the first ``n`` events, the planes' input charge, true labels and predicted
    labels (background / cosmic / neutrino)."""
    from matplotlib.colors import ListedColormap

    model, info = load_segmenter(bundle)
    shape = tuple(info["shape"])
    chunk = next(iterate(Source(events_file, "Events"), [*PIXEL_BRANCHES, "event"], step_size=n), None)
    if chunk is None:
        return []
    arrays = chunk.arrays
    charge, labels = densify(arrays, shape)
    assert labels is not None  # densified with labels
    predicted = np.where(charge > 0, np.argmax(predict_pixels(model, charge), axis=-1), 0)
    cmap = ListedColormap(["white", "tab:blue", "tab:red"])
    image = {"origin": "lower", "aspect": "auto"}
    paths: list[Path] = []
    for i in range(len(charge)):
        with figure(3, shape[0], figsize=(5 * shape[0], 14)) as (fig, axes):
            for p in range(shape[0]):
                axes[0, p].imshow(charge[i, p].T, cmap="viridis", vmin=0, vmax=3, **image)
                axes[1, p].imshow(labels[i, p].T, cmap=cmap, vmin=0, vmax=2, interpolation="nearest", **image)
                axes[2, p].imshow(predicted[i, p].T, cmap=cmap, vmin=0, vmax=2, interpolation="nearest", **image)
                axes[0, p].set_title(f"plane {p}", fontsize=14)
                axes[2, p].set_xlabel("wire", fontsize=12)
            for row, name in enumerate(("charge", "truth", "prediction")):
                axes[row, 0].set_ylabel(f"{name}\ntick", fontsize=12)
            fig.suptitle(f"event {int(arrays.event[i])}: blue cosmic, red neutrino", fontsize=16)
            paths += save(fig, out, f"event_display_{i}")
    return paths
