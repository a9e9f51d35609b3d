"""The HIGGS-style generator: truth kinematics, detector bookkeeping, determinism, feature definitions."""

from __future__ import annotations

import itertools
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
import vector

from hepml.features import FeatureSpec, FeatureTable
from hepml.simulate import higgs
from hepml.simulate.kinematics import boost, mass, two_body_decay

from conftest import SPEC


def test_two_body_decay_conserves_four_momentum_and_masses(rng: np.random.Generator) -> None:
    from hepml.simulate.kinematics import system

    parent = system(
        rng.uniform(90, 400, 1000), rng.gamma(2, 30, 1000), rng.normal(0, 1.5, 1000), rng.uniform(-3, 3, 1000)
    )
    m1, m2 = np.full(1000, 80.4), np.full(1000, 4.8)
    d1, d2 = two_body_decay(parent, m1, m2, rng)
    np.testing.assert_allclose(d1 + d2, parent, atol=1e-9)
    np.testing.assert_allclose(mass(d1), m1, rtol=1e-6)
    np.testing.assert_allclose(mass(d2), m2, rtol=1e-4)


def test_boost_round_trip(rng: np.random.Generator) -> None:
    p = np.stack([np.full(10, 10.0), *rng.normal(0, 2, (3, 10))], 1)
    beta = rng.uniform(-0.5, 0.5, (10, 3))
    np.testing.assert_allclose(boost(boost(p, beta), -beta), p, atol=1e-9)


@pytest.mark.parametrize("process", ["signal", "background"])
def test_truth_chain_conserves_momentum(process: str, rng: np.random.Generator) -> None:
    t = higgs.generate_truth(process, 2000, rng)
    daughters = t["lepton"] + t["neutrino"] + t["q1"] + t["q2"] + t["b1"] + t["b2"]
    parent = t["H0"] if process == "signal" else t["tt"]
    np.testing.assert_allclose(daughters, parent, atol=1e-8 * np.abs(parent).max())
    np.testing.assert_allclose(t["lepton"] + t["neutrino"], t["W_lep"], atol=1e-8)
    np.testing.assert_allclose(t["q1"] + t["q2"], t["W_had"], atol=1e-8)


def test_signal_resonance_masses(rng: np.random.Generator) -> None:
    t = higgs.generate_truth("signal", 20000, rng)
    m_bb = mass(t["b1"] + t["b2"])
    assert np.median(m_bb) == pytest.approx(125.0, abs=0.5)
    assert np.median(mass(t["W2"] + t["b1"] + t["b2"])) == pytest.approx(325.0, abs=2.0)
    assert np.median(mass(t["W1"] + t["W2"] + t["b1"] + t["b2"])) == pytest.approx(425.0, abs=3.0)
    assert np.median(mass(t["W_lep"])) == pytest.approx(80.4, abs=1.0)
    pt = np.hypot(t["H0"][:, 1], t["H0"][:, 2])
    assert 20 < pt.mean() < 60  # production has a realistic pT spread


def test_background_top_masses(rng: np.random.Generator) -> None:
    t = higgs.generate_truth("background", 20000, rng)
    assert np.median(mass(t["t1"])) == pytest.approx(172.5, abs=0.5)
    assert np.median(mass(t["W1"] + t["b1"])) == pytest.approx(172.5, abs=0.5)
    assert mass(t["tt"]).min() > 2 * 160


def test_reco_selection_and_layout() -> None:
    events = higgs.generate("signal", 3000, seed=3, chunk_size=2000)
    assert len(events) == 3000
    assert ak.all(ak.num(events.Jet.pt) >= 4) and ak.all(ak.num(events.Lepton.pt) == 1)
    assert ak.all(events.Jet.pt[:, :-1] >= events.Jet.pt[:, 1:])  # sorted by pT
    assert ak.all(events.Jet.pt > 20) and ak.all(abs(events.Jet.eta) < 2.5)
    assert ak.any(ak.num(events.Jet.pt) > 4)  # radiation makes the jet count vary
    btag_lead = ak.mean(events.Jet.btag)
    assert 0.2 < btag_lead < 0.6
    assert 0 < np.mean(events.genWeight < 0) < 0.05  # a few negative weights, as from NLO generators


def test_deterministic_with_seed(tmp_path: Path) -> None:
    a, b = tmp_path / "a.root", tmp_path / "b.root"
    higgs.write_ntuple(a, "background", 500, seed=11)
    higgs.write_ntuple(b, "background", 500, seed=11)
    ta, tb = uproot.open(a)["Events"].arrays(), uproot.open(b)["Events"].arrays()
    assert ak.all(ta.Jet_pt == tb.Jet_pt) and ak.all(ta.MET_pt == tb.MET_pt)
    c = higgs.generate("background", 500, seed=12)
    assert not ak.all(c.MET_pt == ta.MET_pt)
    assert set(uproot.open(a)["Events"].keys()) >= {
        "nJet",
        "Jet_pt",
        "Jet_eta",
        "Jet_phi",
        "Jet_mass",
        "Jet_btag",
        "nLepton",
        "Lepton_pt",
        "MET_pt",
        "MET_phi",
        "event",
        "genWeight",
    }


def test_higgs_feature_definitions_by_hand(higgs_files: dict[str, Path]) -> None:
    spec = FeatureSpec.from_yaml(SPEC)
    assert len(spec.groups["low"]) == 21 and len(spec.groups["high"]) == 7 and len(spec.groups["all"]) == 28
    table = FeatureTable.concat(spec.iter_tables(str(higgs_files["signal"])))
    raw = uproot.open(higgs_files["signal"])["Events"].arrays()
    col = {n: table.X[:, i] for i, n in enumerate(table.names)}
    more_than_four = 0
    for i in range(100):
        pt, eta, phi, m, btag = (
            np.asarray(raw[f"Jet_{c}"][i], float) for c in ("pt", "eta", "phi", "mass", "btag")
        )
        jets = [vector.obj(pt=pt[j], eta=eta[j], phi=phi[j], mass=m[j]) for j in range(len(pt))]
        order = sorted(range(len(pt)), key=lambda j: -(btag[j] + 1e-4 * pt[j]))
        b1, b2 = jets[order[0]], jets[order[1]]
        # the hadronic W: of all pairs of the other jets, the one closest to the W mass
        q1, q2 = min(itertools.combinations([jets[j] for j in order[2:]], 2),
                     key=lambda pair: abs((pair[0] + pair[1]).mass - 80.4))
        more_than_four += len(pt) > 4
        assert col["m_bb"][i] == pytest.approx((b1 + b2).mass, rel=1e-4)
        assert col["m_jj"][i] == pytest.approx((q1 + q2).mass, rel=1e-4)
        assert col["m_wbb"][i] == pytest.approx((q1 + q2 + b1 + b2).mass, rel=1e-4)
        w = q1 + q2
        had, lep_b = (b1, b2) if abs((w + b1).mass - 172.5) < abs((w + b2).mass - 172.5) else (b2, b1)
        assert col["m_jjj"][i] == pytest.approx((w + had).mass, rel=1e-4)
        assert col["m_lv"][i] >= 80.4 * (1 - 1e-4)  # the W-mass constraint, or above it
        assert col["jet1_pt"][i] == pytest.approx(pt[0]) and col["jet4_btag"][i] == btag[3]
        assert col["lepton_pt"][i] == pytest.approx(float(raw.Lepton_pt[i][0]))
    assert more_than_four > 20  # the pair search over all jets was exercised
