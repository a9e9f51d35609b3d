"""Shared figure helpers for every task: one style, applied per figure, and atomic PDF + PNG output.

Importing this module changes neither the matplotlib backend nor the global style, so a notebook
(coffea, say) keeps its own: figures are made inside :func:`figure`, which applies the mplhep
style to that figure only.  Task figures live with their task (``hepml.tasks.<task>.plots``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from hepml.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["figure", "save", "header_axes", "panel_title", "overlapping_texts", "STYLE", "ExperimentLabel",
           "EXPERIMENTS", "experiment_label", "labelled", "without_beam", "without_lumi"]

STYLE = "ROOT"
EXPERIMENTS = ("none", "ATLAS", "CMS", "LHCb", "ALICE")


@dataclass(frozen=True)
class ExperimentLabel(Settings):
    """The text above every figure: ``experiment`` (mplhep's own label for ATLAS, CMS, LHCb or
    ALICE; ``none``, the default, writes neutral text), ``label`` ("Simulation Internal"), the
    centre-of-mass ``energy`` and ``lumi`` (e.g. "139 fb$^{-1}$")."""

    what: ClassVar[str] = "plots"
    limits: ClassVar[dict[str, dict[str, Any]]] = {"experiment": {"enum": list(EXPERIMENTS)}}
    experiment: str = "none"
    label: str = "Simulation"
    energy: str = "13 TeV"
    lumi: str = ""

    def without_lumi(self) -> ExperimentLabel:
        """The label without luminosity, for figures of shapes and model quality (ROC, loss,
        importance, correlations, calibration), which no luminosity scales."""
        return replace(self, lumi="")

    def without_beam(self) -> ExperimentLabel:
        """The label without centre-of-mass energy and luminosity, for the LArTPC figures (a
        neutrino detector's images have neither)."""
        return replace(self, energy="", lumi="")

    @property
    def right(self) -> str:
        return f"{self.lumi} ({self.energy})" if self.lumi and self.energy else self.lumi or self.energy


def experiment_label(ax: Any, style: ExperimentLabel | None) -> None:
    """Write ``style`` above ``ax`` (nothing when ``style`` is None)."""
    if style is None:
        return
    if style.experiment == "none":
        ax.set_title(style.label, loc="left", fontsize=16, fontstyle="italic")
        ax.set_title(style.right, loc="right", fontsize=16)
        return
    import mplhep

    # data=True: mplhep would otherwise prepend its own "Simulation" to the configured label
    mplhep.label.exp_label(exp=style.experiment, text=style.label, rlabel=style.right, loc=0, data=True, fontsize=16,
                           ax=ax)


@contextmanager
def figure(*args: Any, **kwargs: Any) -> Iterator[tuple[Any, Any]]:
    """``plt.subplots(*args, **kwargs)`` under the mplhep style; yields (figure, axes)."""
    import matplotlib.pyplot as plt
    import mplhep

    with plt.style.context(getattr(mplhep.style, STYLE)):
        fig, axes = plt.subplots(*args, **kwargs)
        try:
            yield fig, axes
        finally:
            plt.close(fig)


_ACTIVE_LABEL: ContextVar[ExperimentLabel | None] = ContextVar("hepml_experiment_label", default=None)


@contextmanager
def without_beam() -> Iterator[None]:
    """Inside this block, figures carry the active label without energy and luminosity."""
    style = _ACTIVE_LABEL.get()
    with labelled(style.without_beam() if style is not None else None):
        yield


@contextmanager
def without_lumi() -> Iterator[None]:
    """Inside this block, figures carry the active label without luminosity."""
    style = _ACTIVE_LABEL.get()
    with labelled(style.without_lumi() if style is not None else None):
        yield


@contextmanager
def labelled(style: ExperimentLabel | None) -> Iterator[None]:
    """Every figure :func:`save` writes inside this block carries ``style`` above its first axes,
    so a task's plotting code needs no label argument threaded through each function."""
    token = _ACTIVE_LABEL.set(style)
    try:
        yield
    finally:
        _ACTIVE_LABEL.reset(token)


def panel_title(ax: Any, text: str, fontsize: float = 16) -> Any:
    """A title above the line of the experiment label (matplotlib's titles share one line, and a
    centred one runs into the label's halves)."""
    return ax.annotate(text, (0.5, 1.0), xycoords="axes fraction", xytext=(0, 30), textcoords="offset points",
                       ha="center", va="bottom", fontsize=fontsize)


def header_axes(fig: Any, first: Any, last: Any) -> Any:
    """An invisible axes spanning ``first`` to ``last`` (panels of a grid's top row, after the
    layout is done): where a grid's experiment label goes, since over one small panel the label's
    two halves run into each other."""
    a, b = first.get_position(), last.get_position()
    header = fig.add_axes((a.x0, a.y1, b.x1 - a.x0, 1e-3))
    header.axis("off")
    return header


def save(fig: Any, out: Path, name: str, *, label_axes: Any = None) -> list[Path]:
    """``out/name.pdf`` and ``out/name.png``, each written atomically, with the active experiment
    label (:func:`labelled`) above ``label_axes`` (the first axes by default; a grid of small
    panels gives a wider one, or the label's two halves would run into each other)."""
    from hepml.io.atomic import atomic_path

    if label_axes is not None or fig.axes:
        experiment_label(label_axes if label_axes is not None else fig.axes[0], _ACTIVE_LABEL.get())
    for a, b in overlapping_texts(fig):  # said in the job's log; the figure tests require none
        log.warning("figure %s: text %r overlaps %r", out / name, a[:40], b[:40])

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("pdf", "png"):
        target = out / f"{name}.{ext}"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=ext, bbox_inches="tight", dpi=110)
        paths.append(target)
    return paths


def overlapping_texts(fig: Any, *, tolerance: float = 1.0) -> list[tuple[str, str]]:
    """Pairs of drawn text elements (titles, labels, tick labels, legend entries, annotations) whose
    boxes overlap by more than ``tolerance`` pixels both ways: what makes a figure unreadable."""
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    hidden = _undrawn_tick_labels(fig)
    boxes = []
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip() or id(text) in hidden:
            continue
        boxes.append((text.get_text(), text.get_window_extent(renderer)))
    pairs = []
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1:]:
            width = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
            height = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
            if width > tolerance and height > tolerance:
                pairs.append((a, b))
    return pairs


def _undrawn_tick_labels(fig: Any) -> set[int]:
    """Axis texts matplotlib keeps but does not draw: the tick labels of ticks outside the view
    limits, and every tick and axis label of an axes turned off."""
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            span = (high - low) * 1e-9
            if not ax.axison:
                hidden.update({id(axis.label), id(axis.get_offset_text())})
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not ax.axison or not low - span <= tick.get_loc() <= high + span:
                    hidden.update({id(tick.label1), id(tick.label2)})
    return hidden
