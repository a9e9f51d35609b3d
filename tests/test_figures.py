"""Figures a note can use: labels and units from the spec, sensible bins and KS precision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hepml.errors import ConfigError
from hepml.features import FeatureSpec

from conftest import SPEC


def test_a_feature_with_a_unit_shows_it_in_its_axis_label(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hepml.tasks.higgs import plots

    spec = FeatureSpec({"features": {
        "m_jj": {"expr": "m", "label": "$m_{jj}$", "unit": "GeV"},
        "n_jets": {"expr": "n", "label": "jets"},
        "pt": {"expr": "p", "first": 2, "unit": "GeV", "mask": True},
    }})
    assert [spec.axis_label(c) for c in spec.columns] == [
        "$m_{jj}$ [GeV]", "jets", "pt 1 [GeV]", "pt 2 [GeV]", "pt 1 present", "pt 2 present"]
    assert [spec.unit_of(c) for c in spec.columns] == ["GeV", "", "GeV", "GeV", "", ""]
    rng = np.random.default_rng(1)
    n = 4000
    X = np.column_stack([rng.exponential(100, n), rng.integers(4, 9, n), rng.exponential(50, (n, 2)),
                         rng.integers(0, 2, (n, 2))])
    saved: list[tuple[str, list[tuple[str, str, list[str]]]]] = []

    def keep(fig: Any, out: Path, name: str, **_: Any) -> list[Path]:
        saved.append((f"{out.name}/{name}", [(ax.get_xlabel(), ax.get_ylabel(), [t.get_text() for t in ax.texts])
                                             for ax in fig.axes if ax.get_xlabel()]))
        return [out / name]

    monkeypatch.setattr(plots, "save", keep)
    paths = plots.plot_features(X, rng.integers(0, 2, n), np.ones(n), spec.columns, tmp_path,
                                [spec.axis_label(c) for c in spec.columns], [spec.unit_of(c) for c in spec.columns])
    # the overview grid, then one figure per feature
    assert [name for name, _ in saved] == [f"{tmp_path.name}/features", *(f"features/{c}" for c in spec.columns)]
    assert len(paths) == 1 + len(spec.columns)
    (mjj_x, mjj_y, mjj_texts), (jets_x, jets_y, jets_texts) = saved[0][1][:2]
    assert mjj_x == "$m_{jj}$ [GeV]" and mjj_y.startswith("fraction of events / ") and mjj_y.endswith(" GeV")
    assert jets_x == "jets" and jets_y == "fraction of events / 1"  # integer bins for a count
    # the exponential tail beyond the 99.5 % quantile is folded into the last bin and marked
    assert mjj_texts == ["overflow 0.5 %"] and jets_texts == []
    assert saved[1][1][0][:2] == (mjj_x, mjj_y)  # the single-feature figure has the same labels


def test_overlapping_text_is_found_and_undrawn_text_is_not() -> None:
    from hepml.plotting import figure, overlapping_texts

    with figure() as (fig, ax):
        ax.plot([0, 1], [0, 1])
        ax.set_xlim(0.2, 0.8)  # the ticks at 0 and 1 keep their (undrawn) labels
        ax.set_title("a long title on the left side", loc="left")
        assert overlapping_texts(fig) == []
        ax.set_title("a long title on the right side", loc="right")
        ax.text(0.5, 0.5, "one", transform=ax.transAxes)
        ax.text(0.51, 0.5, "two", transform=ax.transAxes)
        assert set(overlapping_texts(fig)) == {("a long title on the left side", "a long title on the right side"),
                                               ("one", "two")}
    with figure(1, 2) as (fig, axes):
        assert ("0.0", "0.0") in overlapping_texts(fig)  # an empty panel's corner tick labels collide ...
        for ax in axes:
            ax.axis("off")  # ... but an unused panel of a grid draws no tick labels
        assert overlapping_texts(fig) == []


def test_bins_have_round_widths() -> None:
    from hepml.plotting.hist import feature_bins, round_bins

    for lo, hi, n, width in ((21.3, 221.7, 40, 10.0), (0.0, 1.0, 15, 0.1), (-3.14, 3.14, 30, 0.25), (0, 870, 40, 25)):
        edges = round_bins(lo, hi, n)
        assert np.allclose(np.diff(edges), width) and edges[0] <= lo and edges[-1] >= hi
        assert np.allclose(edges / width, np.round(edges / width))  # edges on multiples of the width
    rng = np.random.default_rng(3)
    width = np.diff(feature_bins(rng.exponential(57.3, 10000)))[0]
    assert width / 10 ** np.floor(np.log10(width)) in (1, 2, 2.5, 5)


def test_histograms_fold_the_flow_into_the_edge_bins() -> None:
    from hepml.plotting.hist import feature_bins, flow_fractions, weighted_fraction

    np.testing.assert_array_equal(feature_bins(np.array([4.0, 5, 8])), np.arange(3.5, 9.5))
    values, weights = np.array([-5.0, 0.5, 1.5, 2.5, 9.0]), np.array([1.0, 1.0, 1.0, 1.0, -2.0])
    bins = np.array([0.0, 1.0, 2.0, 3.0])
    fraction, err = weighted_fraction(values, weights, bins, fold_flow=True)
    np.testing.assert_allclose(fraction, [2.0 / 2, 1.0 / 2, -1.0 / 2])  # total weight 2, negative weight kept
    np.testing.assert_allclose(err, [np.sqrt(2) / 2, 1 / 2, np.sqrt(5) / 2])
    assert flow_fractions(values, weights, bins) == (0.5, -1.0)


def test_drawing_functions_take_axes_and_return_their_artists() -> None:
    """The hist/mplhep convention: draw into the axes given (else the current ones), return artists."""
    import matplotlib.pyplot as plt

    from hepml.plotting.hist import draw_classes
    from hepml.tasks.higgs.draw import draw_feature, draw_history

    rng = np.random.default_rng(2)
    values, label = rng.normal(size=1000), rng.integers(0, 2, 1000)
    fig, (ax1, ax2) = plt.subplots(1, 2)
    artists = draw_classes(values, label, np.ones(1000), np.linspace(-1, 1, 11), ax=ax1)
    assert artists and all(a.axes is ax1 for a in artists) and not ax2.get_children()[0].get_label()
    plt.sca(ax2)
    artists = draw_feature(values, label, np.ones(1000), xlabel="x", unit="cm")
    assert all(a.axes is ax2 for a in artists) and ax2.get_ylabel().endswith(" cm")
    lines = draw_history({f"fold{i}": {"loss": [1.0, 0.5], "val_loss": [1.1, 0.6]} for i in range(7)}, ax=ax1)
    colours = [line.get_color() for line in lines]
    assert len(set(colours)) == 7 and colours[0] == colours[1]  # one colour per fold, no repeat after five
    plt.close(fig)


def test_ks_is_shown_with_the_precision_it_has() -> None:
    from hepml.tasks.higgs.draw import ks_text

    assert ks_text(0.0123, 0.3456) == "KS D = 0.012, p = 0.35"
    assert ks_text(0.08, 2.1e-9) == "KS D = 0.080, p = 2.1e-09"
    assert ks_text(None, None) == "KS n/a"


def test_the_demo_specs_label_every_feature() -> None:
    for name in ("higgs_features.yaml", "flat_features.yaml"):
        spec = FeatureSpec.from_yaml(SPEC.parent / name)
        assert all(f.label for f in spec.features), name
        assert spec.axis_label("m_wwbb") == "$m_{WWbb}$ [GeV]"


def test_label_and_unit_must_be_text() -> None:
    with pytest.raises(ConfigError, match=r"features.x.unit: 5 is not text"):
        FeatureSpec({"features": {"x": {"expr": "a", "unit": 5}}})


@pytest.mark.parametrize("experiment", ["none", "ATLAS", "CMS", "LHCb", "ALICE"])
def test_experiment_label_above_every_saved_figure(tmp_path: Path, experiment: str) -> None:
    from hepml.plotting import ExperimentLabel, figure, labelled, save

    style = ExperimentLabel(experiment=experiment, label="Simulation Internal", energy="13.6 TeV", lumi="62 fb$^{-1}$")
    with labelled(style), figure() as (fig, ax):
        ax.plot([0, 1], [0, 1])
        assert [p.name for p in save(fig, tmp_path, "f")] == ["f.pdf", "f.png"]
        texts = " ".join(t.get_text() for t in [*ax.texts, ax.title, ax._left_title, ax._right_title])
    assert "Simulation Internal" in texts and "62 fb$^{-1}$ (13.6 TeV)" in texts
    assert (experiment in texts) == (experiment != "none")
    with figure() as (fig, ax):  # outside the block: no label
        save(fig, tmp_path, "g")
        assert not ax.texts and not ax._left_title.get_text()


def test_plot_label_option_is_checked() -> None:
    from hepml.cli import main

    assert main(["--plot-label", '{"experiment": "DELPHI"}', "inspect", str(SPEC)]) == 1


@pytest.mark.parametrize("signal, background, text", [
    (3000, 800, "overtraining check (3000 signal, 800 background"),
    (900, 900, "overtraining check (900 per class"),
])
def test_scores_figure_says_how_many_events_of_each_class_the_check_compared(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signal: int, background: int, text: str) -> None:
    """A small class is drawn down to its own size: the verdict names each class's count then."""
    import matplotlib.pyplot as plt

    from hepml.tasks.higgs.draw import draw_scores
    from hepml.tasks.higgs.evaluate import BundleScores, compared_events

    rng = np.random.default_rng(0)
    label = np.r_[np.ones(signal), np.zeros(background)].astype(np.int32)
    raw, ones = rng.uniform(size=len(label)), np.ones(len(label))
    s = BundleScores("dnn_all", "dnn", "all", raw, raw, label, ones, np.zeros(len(label), np.int32), tmp_path)
    training = {"train_score": rng.uniform(size=len(label)), "train_label": label, "train_weight": ones}
    monkeypatch.setattr(BundleScores, "training_scores", lambda self: training)
    _, ax = plt.subplots()
    draw_scores(s, ax=ax)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close("all")
    assert any(t.startswith(text) for t in legend), legend
    assert s.overtraining_check["ks"]["background"]["events_train"] == background
    assert text.endswith(compared_events(s.overtraining_check["ks"]))  # hepml evaluate's warning says the same
