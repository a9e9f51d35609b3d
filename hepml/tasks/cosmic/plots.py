"""Event displays of the cosmic tagger: input charge, truth and prediction on each wire plane, with
wire and time-tick axes and a colour bar per row.  :func:`draw_plane` draws one plane on axes the
caller gives and returns its artists, for a notebook's own figures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from hepml.io.images import PIXEL_BRANCHES, densify
from hepml.io.read import Source, iterate
from hepml.plotting import figure, save, without_beam
from hepml.plotting.hist import axes_or_current, clear_corner
from hepml.tasks.cosmic.score import load_segmenter, predict_pixels

__all__ = ["plot_event_displays", "draw_plane", "colour_bar", "LABEL_COLOURS", "CHARGE_MAX"]

LABEL_COLOURS = ("white", "tab:blue", "tab:red")  # background, cosmic, neutrino
CHARGE_MAX = 3.0  # MIP: the colour scale saturates above, where a few pixels of showers and stopping ends lie


def draw_plane(image: np.ndarray, kind: str = "charge", *, ax: Any = None, colorbar: bool = True,
               classes: tuple[str, ...] = ("background", "cosmic", "neutrino")) -> list[Any]:
    """One wire plane (wires, ticks): ``kind="charge"`` in MIP on a sequential scale, or ``"labels"``
    (class indices, truth or prediction) in the class colours; wire along x, time tick along y.
    With ``colorbar`` a colour bar is attached (class names as its ticks for labels)."""
    from matplotlib.colors import ListedColormap

    ax = axes_or_current(ax)
    options: dict[str, Any] = {"origin": "lower", "aspect": "auto"}
    if kind == "charge":
        artist = ax.imshow(image.T, cmap="viridis", vmin=0, vmax=CHARGE_MAX, **options)
    elif kind == "labels":
        cmap = ListedColormap(list(LABEL_COLOURS[: len(classes)]))
        artist = ax.imshow(image.T, cmap=cmap, vmin=-0.5, vmax=len(classes) - 0.5, interpolation="nearest", **options)
    else:
        raise ValueError(f"kind {kind!r}: choose charge or labels")
    ax.set_xlabel("wire", fontsize=20)
    ax.set_ylabel("time tick", fontsize=20)
    clear_corner(ax)
    artists = [artist]
    if colorbar:
        artists.append(colour_bar(artist, ax, kind, classes))
    return artists


def colour_bar(artist: Any, ax: Any, kind: str, classes: tuple[str, ...]) -> Any:
    """The colour bar of a :func:`draw_plane` image, beside ``ax`` (one axes or several)."""
    fig = np.ravel(ax)[0].figure
    bar = fig.colorbar(artist, ax=ax, pad=0.015, fraction=0.04)
    if kind == "charge":
        bar.set_label("charge [MIP]", fontsize=18)
    else:
        bar.set_ticks(range(len(classes)), labels=list(classes))
        bar.ax.minorticks_off()
    bar.ax.tick_params(labelsize=16)
    return bar


def plot_event_displays(bundle: str | os.PathLike[str], events_file: str, out: Path, n: int = 3, *,
                        mirrors: bool = False) -> list[Path]:
    """``event_display_<i>`` for each of the first ``n`` events: rows charge, true labels and
    predicted labels (predictions shown on pixels with charge, predicted as the scores were:
    ``mirrors`` as in :func:`~hepml.tasks.cosmic.score.score_pixels`), one column per plane."""
    model, info = load_segmenter(bundle)
    shape = tuple(info["shape"])
    classes = tuple(info.get("classes", ("background", "cosmic", "neutrino")))
    chunk = next(iterate(Source(events_file, "Events"), [*PIXEL_BRANCHES, "event"], step_size=n), None)
    if chunk is None:
        return []
    arrays = chunk.arrays
    charge, labels = densify(arrays, shape)
    assert labels is not None  # densified with labels
    predicted = np.where(charge > 0, np.argmax(predict_pixels(model, charge, mirrors=mirrors), axis=-1), 0)
    paths: list[Path] = []
    for i in range(len(charge)):
        with figure(3, shape[0], figsize=(4.5 * shape[0] + 1.5, 12), sharex=True, sharey=True) as (fig, axes):
            for row, (images, kind, name) in enumerate(((charge, "charge", "charge"), (labels, "labels", "truth"),
                                                        (predicted, "labels", "prediction"))):
                for p in range(shape[0]):
                    ax = axes[row, p]
                    (artist,) = draw_plane(images[i, p], kind, ax=ax, colorbar=False, classes=classes)
                    ax.text(0.04, 0.95, f"{name}, plane {p}", transform=ax.transAxes, va="top", fontsize=18,
                            bbox={"facecolor": "white", "alpha": 0.6, "edgecolor": "none"})
                    ax.set_xlabel("wire" if row == 2 else "")
                    ax.set_ylabel("time tick" if p == 0 else "")
                colour_bar(artist, axes[row, :], kind, classes)
            fig.suptitle(f"event {int(arrays.event[i])}", fontsize=20, y=0.95)
            with without_beam():
                paths += save(fig, out, f"event_display_{i}")
    return paths
