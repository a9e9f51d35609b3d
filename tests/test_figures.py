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
    rng = np.random.default_rng(1)
    n = 4000
    X = np.column_stack([rng.exponential(100, n), rng.integers(4, 9, n), rng.exponential(50, (n, 2)),
                         rng.integers(0, 2, (n, 2))])
    captured: dict[str, Any] = {}

    def keep(fig: Any, out: Path, name: str) -> list[Path]:
        captured["axes"] = [(ax.get_xlabel(), ax.get_ylabel(), len(ax.patches)) for ax in fig.axes if ax.get_xlabel()]
        return []

    monkeypatch.setattr(plots, "save", keep)
    plots.plot_features(X, rng.integers(0, 2, n), np.ones(n), spec.columns, tmp_path,
                        [spec.axis_label(c) for c in spec.columns])
    (mjj_x, mjj_y, _), (jets_x, jets_y, _) = captured["axes"][:2]
    assert mjj_x == "$m_{jj}$ [GeV]" and mjj_y.startswith("fraction / ") and mjj_y.endswith(" GeV")
    assert jets_x == "jets" and jets_y == "fraction / 1"  # integer bins for a count
    np.testing.assert_array_equal(plots.feature_bins(np.array([4.0, 5, 8])), np.arange(3.5, 9.5))


def test_ks_is_shown_with_the_precision_it_has() -> None:
    from hepml.tasks.higgs.plots import ks_text

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
