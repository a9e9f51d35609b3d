"""Class-by-class histograms on one pair of axes, the building block of the input-feature, score and
DANN figures.  Each function takes ``ax`` (the current axes when None) and returns its artists, the
convention of ``hist`` and ``mplhep``, so a notebook can place them in its own figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["axes_or_current", "feature_bins", "round_bins", "weighted_fraction", "flow_fractions", "draw_classes",
           "per_bin_label", "clear_corner", "CLASS_COLOURS"]

CLASS_COLOURS = ("tab:red", "tab:blue", "tab:green", "tab:orange")


def axes_or_current(ax: Any) -> Any:
    """``ax``, or the current axes of pyplot when None (what ``plt.hist`` would draw into)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.gca()


def feature_bins(values: np.ndarray, n: int = 40) -> np.ndarray:
    """Integer-centred bins for discrete features (counts, b-tag decisions), otherwise ``n`` bins over
    the central 99 % (0.5 to 99.5 % quantiles; the minimum or maximum instead when it lies within 10 %
    of that range), so a long tail does not squash the peak (the events outside are folded into the
    edge bins by :func:`draw_classes`, and marked)."""
    finite = values[np.isfinite(values)]
    distinct = np.unique(finite[: 100_000])
    if 0 < len(distinct) <= 30 and np.all(distinct == np.round(distinct)):
        return np.arange(distinct.min() - 0.5, distinct.max() + 1.5)
    if not len(finite):
        return np.linspace(0.0, 1.0, n + 1)
    lo, hi = np.percentile(finite, [0.5, 99.5])
    near = 0.1 * (hi - lo)  # an edge this close to the quantile is shown, not folded (a mass threshold, say)
    lo, hi = (finite.min() if lo - finite.min() < near else lo), (finite.max() if finite.max() - hi < near else hi)
    return round_bins(lo, hi if hi > lo else lo + 1, n)


def round_bins(lo: float, hi: float, n: int) -> np.ndarray:
    """About ``n`` bins covering [lo, hi] whose width is 1, 2, 2.5 or 5 times a power of ten and
    whose edges are multiples of it: '/ 5 GeV' on the axis, not '/ 5.26 GeV'."""
    raw = (hi - lo) / n
    power = 10.0 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))
    first, last = np.floor(lo / step + 1e-9), np.ceil(hi / step - 1e-9)
    return np.arange(first, last + 1) * step


def weighted_fraction(values: np.ndarray, weights: np.ndarray, bins: np.ndarray,
                      fold_flow: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin fraction of the total weight and its uncertainty sqrt(sum w^2) / |sum w|; with
    ``fold_flow`` the entries below (above) the bins count in the first (last) bin."""
    if fold_flow:
        values = np.clip(values, bins[0], bins[-1])
    total = np.sum(weights)
    counts, _ = np.histogram(values, bins, weights=weights)
    sumw2, _ = np.histogram(values, bins, weights=weights**2)
    return counts / total, np.sqrt(sumw2) / abs(total)


def flow_fractions(values: np.ndarray, weights: np.ndarray, bins: np.ndarray) -> tuple[float, float]:
    """Weighted fractions below and above the binned range."""
    total = float(np.sum(weights))
    if total == 0:
        return 0.0, 0.0
    return float(np.sum(weights[values < bins[0]])) / total, float(np.sum(weights[values > bins[-1]])) / total


def clear_corner(ax: Any) -> None:
    """No label on the lowest visible y tick: it sits where the first x tick label does, in the
    bottom-left corner (a histogram's '0.00', an image's pixel 0).  The tick itself stays."""
    from matplotlib.ticker import ScalarFormatter

    class WithoutLowest(ScalarFormatter):
        def format_ticks(self, values: Any) -> list[str]:
            labels = list(super().format_ticks(values))
            if self.axis is None:
                return labels
            low, high = sorted(self.axis.get_view_interval())
            shown = [i for i, value in enumerate(values) if low <= value <= high]
            if shown:
                labels[shown[0]] = ""
            return labels

    ax.yaxis.set_major_formatter(WithoutLowest())


def per_bin_label(bins: np.ndarray, unit: str = "", what: str = "fraction of events") -> str:
    """``fraction of events / 0.025 GeV``: the y label that says what one bin holds."""
    width = bins[1] - bins[0]
    return f"{what} / {width:.3g} {unit}".rstrip()


def draw_classes(values: np.ndarray, label: np.ndarray, weight: np.ndarray, bins: np.ndarray, *, ax: Any = None,
                 classes: Sequence[tuple[int, str]] = ((1, "signal"), (0, "background")),
                 colours: Sequence[str] = CLASS_COLOURS, errors: bool = True, mark_flow: bool = True,
                 fontsize: float = 10) -> list[Any]:
    """Each class normalised to unit weight, as a line with its weighted uncertainty as a band;
    entries outside ``bins`` are folded into the edge bins and, with ``mark_flow``, the folded
    fractions are written in the top corners (``underflow 0.5 %``, ``overflow 0.4 %``).  Returns the artists."""
    ax = axes_or_current(ax)
    artists: list[Any] = []
    below, above = [], []
    for (cls, name), colour in zip(classes, colours):
        rows = label == cls
        if not np.any(rows):
            continue
        fraction, err = weighted_fraction(values[rows], weight[rows], bins, fold_flow=True)
        artists.append(ax.stairs(fraction, bins, color=colour, lw=1.8, label=name))
        if errors:
            artists.append(ax.stairs(fraction + err, bins, baseline=fraction - err, fill=True, color=colour, alpha=0.25,
                                     lw=0))
        lo, hi = flow_fractions(values[rows], weight[rows], bins)
        below.append(lo)
        above.append(hi)
    if mark_flow:
        for share, x, align, text in ((max(below, default=0), 0.02, "left", "underflow {:.1f} %"),
                                      (max(above, default=0), 0.98, "right", "overflow {:.1f} %")):
            if share > 0:
                artists.append(ax.text(x, 0.97, text.format(100 * share), transform=ax.transAxes, ha=align, va="top",
                                       fontsize=fontsize, color="dimgrey"))
    return artists
