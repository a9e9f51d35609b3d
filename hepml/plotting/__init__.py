"""Shared figure helpers for every task: one style, applied per figure, and atomic PDF + PNG output.

Importing this module changes neither the matplotlib backend nor the global style, so a notebook
(coffea, say) keeps its own: figures are made inside :func:`figure`, which applies the mplhep
style to that figure only.  Task figures live with their task (``hepml.tasks.<task>.plots``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from hepml.settings import Settings

__all__ = ["figure", "save", "STYLE", "ExperimentLabel", "EXPERIMENTS", "experiment_label", "labelled", "without_beam"]

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
def labelled(style: ExperimentLabel | None) -> Iterator[None]:
    """Every figure :func:`save` writes inside this block carries ``style`` above its first axes,
    so a task's plotting code needs no label argument threaded through each function."""
    token = _ACTIVE_LABEL.set(style)
    try:
        yield
    finally:
        _ACTIVE_LABEL.reset(token)


def save(fig: Any, out: Path, name: str) -> list[Path]:
    """``out/name.pdf`` and ``out/name.png``, each written atomically, with the active experiment
    label (:func:`labelled`) above the first axes."""
    from hepml.io.atomic import atomic_path

    if fig.axes:
        experiment_label(fig.axes[0], _ACTIVE_LABEL.get())

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("pdf", "png"):
        target = out / f"{name}.{ext}"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=ext, bbox_inches="tight", dpi=110)
        paths.append(target)
    return paths
