"""Feature building on real public ntuples, checked against values computed by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import uproot
import yaml

from hepml.errors import ConfigError, NonFiniteFeatureError
from hepml.features import FeatureSpec, FeatureTable
from hepml.features.files import read_features, write_features


def test_hzz_leading_muon_and_jet_from_cartesian(hzz: str) -> None:
    spec = FeatureSpec(
        {
            "tree": "events",
            "fill": -999.0,
            "define": {"mu": "p4xyz(Muon_Px, Muon_Py, Muon_Pz, Muon_E)", "jet": "p4xyz(Jet_Px, Jet_Py, Jet_Pz, Jet_E)"},
            "features": {
                "mu_pt": "mu.pt[:, 0]",
                "mu_eta": "mu.eta[:, 0]",
                "mu_phi": "mu.phi[:, 0]",
                "mu_mass": "mu.mass[:, 0]",
                "jet_pt": "pt(jet)[:, 0]",
                "jet_eta": "eta(jet)[:, 0]",
                "jet_phi": "phi(jet)[:, 0]",
                "jet_mass": "mass(jet)[:, 0]",
                "n_jets": "num(Jet_Px)",
            },
            "weight": "EventWeight",
            "fold_key": "entry",  # HZZ has no event numbers
        }
    )
    table = FeatureTable.concat(spec.iter_tables(hzz, step_size=1000))
    raw = uproot.open(hzz)["events"].arrays(
        ["Muon_Px", "Muon_Py", "Muon_Pz", "Muon_E", "Jet_Px", "Jet_Py", "Jet_Pz", "Jet_E", "EventWeight"]
    )
    assert len(table) == 2421
    col = {n: table.X[:, i] for i, n in enumerate(table.names)}
    checked = 0
    for i in range(len(raw)):
        for obj in ("Muon", "Jet"):
            key = "mu" if obj == "Muon" else "jet"
            if len(raw[f"{obj}_Px"][i]) == 0:
                assert col[f"{key}_pt"][i] == -999.0
                continue
            px, py, pz, e = (float(raw[f"{obj}_{c}"][i][0]) for c in ("Px", "Py", "Pz", "E"))
            pt = math.sqrt(px * px + py * py)
            p = math.sqrt(px * px + py * py + pz * pz)
            eta = 0.5 * math.log((p + pz) / (p - pz))
            m2 = e * e - p * p
            assert col[f"{key}_pt"][i] == pytest.approx(pt, rel=1e-5)
            assert col[f"{key}_eta"][i] == pytest.approx(eta, rel=1e-4, abs=1e-5)
            assert col[f"{key}_phi"][i] == pytest.approx(math.atan2(py, px), rel=1e-5, abs=1e-6)
            got = float(col[f"{key}_mass"][i])
            # float32 inputs: m^2 = E^2 - p^2 cancels, so compare m^2 to the precision of E^2
            assert math.copysign(got * got, got) == pytest.approx(m2, abs=2e-6 * e * e + 1e-3)
            checked += 1
    assert checked > 3000
    np.testing.assert_allclose(table.weight, raw["EventWeight"].to_numpy(), rtol=1e-7)
    assert col["n_jets"].max() > 0


def test_zmumu_dimuon_mass_matches_branch(zmumu: str) -> None:
    spec = FeatureSpec(
        {"tree": "events", "fold_key": "Event",
         "features": {"mass": "mass(p4xyz(px1, py1, pz1, E1) + p4xyz(px2, py2, pz2, E2))", "M": "M"}}
    )
    table = FeatureTable.concat(spec.iter_tables(zmumu))
    assert len(table) == 2304
    np.testing.assert_allclose(table.X[:, 0], table.X[:, 1], rtol=1e-4, atol=1e-4)


def test_nanoaod_first_n_jets_with_fill_and_mask(nanoaod: str) -> None:
    spec = FeatureSpec(
        {
            "features": {
                "jet_pt": {"expr": "Jet_pt", "first": 4, "fill": -1, "mask": True},
                "jet_eta": {"expr": "Jet_eta", "first": 4, "fill": -5},
                "met": "MET_pt",
                "n_jets": "num(Jet_pt)",
            },
            "event_id": ["run", "luminosityBlock", "event"],
        }
    )
    table = FeatureTable.concat(spec.iter_tables(nanoaod, step_size=64))
    raw = uproot.open(nanoaod)["Events"].arrays(["Jet_pt", "Jet_eta", "MET_pt", "event"])
    assert table.names[:8] == [f"jet_pt_{i}" for i in range(4)] + [f"jet_pt_mask_{i}" for i in range(4)]
    assert len(table) == 200
    for i in range(200):
        pts = list(raw.Jet_pt[i])
        for j in range(4):
            expected = pts[j] if j < len(pts) else -1.0
            assert table.X[i, j] == pytest.approx(expected)
            assert table.X[i, 4 + j] == (1.0 if j < len(pts) else 0.0)
            assert table.X[i, 8 + j] == pytest.approx(raw.Jet_eta[i][j] if j < len(pts) else -5.0)
    np.testing.assert_array_equal(table.event_id["event"], raw.event.to_numpy().astype(np.int64))
    np.testing.assert_allclose(table.X[:, table.names.index("met")], raw.MET_pt.to_numpy())


def test_nan_policy_raise_names_feature_and_entry(zmumu: str) -> None:
    spec = FeatureSpec({"tree": "events", "fold_key": "Event", "features": {"bad": "log(M - 60)"}})
    with pytest.raises(NonFiniteFeatureError) as err:
        list(spec.iter_tables(zmumu, step_size=1000))
    raw = uproot.open(zmumu)["events"]["M"].array(library="np")
    first_bad = int(np.argmax(~np.isfinite(np.log(raw - 60))))
    assert "feature 'bad' is" in str(err.value) and f"entry {first_bad}" in str(err.value)
    spec = FeatureSpec({"tree": "events", "fold_key": "Event", "nan_policy": "replace", "nan_value": -9,
                        "features": {"bad": "log(M - 60)"}})
    table = FeatureTable.concat(spec.iter_tables(zmumu))
    assert np.all(np.isfinite(table.X)) and (table.X == -9).any()


def test_spec_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key 'feature'"):
        FeatureSpec({"feature": {"a": "x"}})
    with pytest.raises(ConfigError, match="'weight' is reserved"):
        FeatureSpec({"features": {"weight": "x"}})
    with pytest.raises(ConfigError, match="define.a refers to itself"):
        FeatureSpec({"define": {"a": "b + 1", "b": "a * 2"}, "features": {"x": "a"}})
    with pytest.raises(ConfigError, match="groups.g names 'y'"):
        FeatureSpec({"features": {"x": "a"}, "groups": {"g": ["y"]}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("features: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not a valid feature spec at line"):
        FeatureSpec.from_yaml(bad)


def test_jagged_feature_without_first_is_refused(nanoaod: str) -> None:
    spec = FeatureSpec({"features": {"pts": "Jet_pt"}})
    with pytest.raises(ConfigError, match="features.pts is jagged.*first: N"):
        list(spec.iter_tables(nanoaod))


def test_feature_file_round_trip(nanoaod: str, tmp_path: Path) -> None:
    spec = FeatureSpec(
        yaml.safe_load("features: {met: MET_pt, lead: 'Jet_pt[:, 0]'}\nevent_id: [event]\nweight: 2.5\n")
    )
    n = write_features(spec, nanoaod, tmp_path / "f.root", label=1, step_size=50)
    table = read_features([tmp_path / "f.root"], ["lead", "met"], ["event"])
    assert n == len(table) == 200
    assert table.names == ["lead", "met"]
    assert np.all(table.weight == 2.5) and np.all(table.label == 1)
