"""HIGGS-benchmark-style events (Baldi, Sadowski, Whiteson 2014) in a NanoAOD-like jagged layout.

signal:      gg -> H0 (425) -> W H+- (325),  H+- -> W h (125),  h -> b b,  one W -> l nu, one W -> q q'
background:  tt -> W b W b,  one W -> l nu, one W -> q q'

Masses follow truncated Breit-Wigner line shapes; every decay is a two-body decay, isotropic in
the parent's rest frame, boosted to the lab, so four-momentum is conserved at each vertex.  The
produced system gets a pT and rapidity spread.  A simple detector model smears what is seen:
lepton and jet energy resolution, eta acceptance and pT thresholds, b-tag efficiency with charm
and light mistag rates, extra radiation jets (so nJet varies), and MET from the neutrino plus jet
mismeasurement and a soft-term resolution.  The benchmark's selection keeps events with exactly
one lepton and at least four jets.  Everything is vectorised numpy, seeded and deterministic.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepml.errors import ConfigError
from hepml.settings import FRACTION, NON_NEGATIVE, POSITIVE, Settings
from hepml.simulate.kinematics import breit_wigner, pt_eta_phi, system, two_body_decay

__all__ = ["DetectorModel", "PROCESSES", "generate_truth", "generate", "iter_chunks", "write_ntuple"]

PROCESSES = ("signal", "background")
M_W, G_W = 80.379, 2.085
M_TOP, G_TOP = 172.5, 1.42
M_B, M_C = 4.8, 1.3
M_H0, G_H0 = 425.0, 10.0
M_HC, G_HC = 325.0, 5.0
M_H, G_H = 125.0, 0.004
M_E, M_MU = 0.000511, 0.10566


@dataclass(frozen=True)
class DetectorModel(Settings):
    """Detector and generator knobs; the pseudo-data domain for DANN changes some of them."""

    what = "detector"
    limits = {
        **{k: NON_NEGATIVE for k in ("jet_stochastic", "jet_constant", "jet_angular", "lepton_resolution", "met_soft",
                                    "jet_pt_min", "lepton_pt_min", "isr_mean")},
        **{k: POSITIVE for k in ("jet_energy_scale", "jet_eta_max", "lepton_eta_max", "isr_pt_scale",
                                "system_pt_scale")},
        **{k: FRACTION for k in ("btag_efficiency", "ctag_rate", "mistag_rate")},
        "negative_weight_fraction": {"minimum": 0, "exclusiveMaximum": 0.5},
    }

    jet_stochastic: float = 1.0      # sigma(E)/E = a / sqrt(E / GeV)  (+)  c
    jet_constant: float = 0.08
    jet_energy_scale: float = 1.0
    jet_angular: float = 0.03        # smearing of jet eta and phi
    lepton_resolution: float = 0.02  # sigma(pT)/pT
    met_soft: float = 15.0           # GeV per MET component (soft term, pile-up)
    btag_efficiency: float = 0.70
    ctag_rate: float = 0.15
    mistag_rate: float = 0.01
    jet_pt_min: float = 20.0
    jet_eta_max: float = 2.5
    lepton_pt_min: float = 25.0
    lepton_eta_max: float = 2.5
    isr_mean: float = 1.2            # mean number of extra radiation jets (Poisson)
    isr_pt_scale: float = 35.0       # their pT spectrum above 15 GeV is exponential with this slope
    system_pt_scale: float = 1.0     # stretches the pT spectrum of the produced system
    negative_weight_fraction: float = 0.02

    def shifted(self, **changes: float) -> DetectorModel:
        return replace(self, **changes)




def _production(n: int, m: np.ndarray, pt_mean: float, y_sigma: float, det: DetectorModel,
                rng: np.random.Generator) -> np.ndarray:
    pt = rng.gamma(1.5, pt_mean / 1.5 * det.system_pt_scale, n)
    y = rng.normal(0.0, y_sigma, n)
    return system(m, pt, y, rng.uniform(-np.pi, np.pi, n))


def _w_decays(w_lep: np.ndarray, w_had: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = len(w_lep)
    muon = rng.random(n) < 0.5
    m_lep = np.where(muon, M_MU, M_E)
    lepton, neutrino = two_body_decay(w_lep, m_lep, np.zeros(n), rng)
    charm = rng.random(n) < 0.5  # W -> c s vs u d
    q1, q2 = two_body_decay(w_had, np.where(charm, M_C, 0.0), np.zeros(n), rng)
    return {"lepton": lepton, "neutrino": neutrino, "q1": q1, "q2": q2,
            "muon": muon, "charm": charm}


def generate_truth(
    process: str, n: int, rng: np.random.Generator, det: DetectorModel | None = None
) -> dict[str, np.ndarray]:
    """Parton-level four-vectors (N, 4) of every particle of the decay chain, plus flags."""
    det = det or DetectorModel()
    if process == "signal":
        m_h0 = breit_wigner(M_H0, G_H0, 390.0, 460.0, rng, n)
        m_hc = breit_wigner(M_HC, G_HC, 300.0, np.minimum(350.0, m_h0 - 62.0), rng, n)
        m_w1 = breit_wigner(M_W, G_W, 60.0, np.minimum(100.0, m_h0 - m_hc - 0.5), rng, n)
        m_h = breit_wigner(M_H, G_H, 124.0, 126.0, rng, n)
        m_w2 = breit_wigner(M_W, G_W, 60.0, 100.0, rng, n)
        h0 = _production(n, m_h0, 35.0, 0.9, det, rng)
        w1, hc = two_body_decay(h0, m_w1, m_hc, rng)
        w2, h = two_body_decay(hc, m_w2, m_h, rng)
        b1, b2 = two_body_decay(h, np.full(n, M_B), np.full(n, M_B), rng)
        first_leptonic = rng.random(n) < 0.5
        w_lep = np.where(first_leptonic[:, None], w1, w2)
        w_had = np.where(first_leptonic[:, None], w2, w1)
        out = {"H0": h0, "Hc": hc, "h": h, "W1": w1, "W2": w2, "b1": b1, "b2": b2}
    elif process == "background":
        m_t1 = breit_wigner(M_TOP, G_TOP, 160.0, 185.0, rng, n)
        m_t2 = breit_wigner(M_TOP, G_TOP, 160.0, 185.0, rng, n)
        m_tt = m_t1 + m_t2 + rng.gamma(2.0, 60.0, n)
        tt = _production(n, m_tt, 40.0, 1.0, det, rng)
        t1, t2 = two_body_decay(tt, m_t1, m_t2, rng)
        m_w1 = breit_wigner(M_W, G_W, 60.0, np.minimum(100.0, m_t1 - M_B - 0.5), rng, n)
        m_w2 = breit_wigner(M_W, G_W, 60.0, np.minimum(100.0, m_t2 - M_B - 0.5), rng, n)
        w1, b1 = two_body_decay(t1, m_w1, np.full(n, M_B), rng)
        w2, b2 = two_body_decay(t2, m_w2, np.full(n, M_B), rng)
        first_leptonic = rng.random(n) < 0.5
        w_lep = np.where(first_leptonic[:, None], w1, w2)
        w_had = np.where(first_leptonic[:, None], w2, w1)
        out = {"tt": tt, "t1": t1, "t2": t2, "W1": w1, "W2": w2, "b1": b1, "b2": b2}
    else:
        raise ConfigError(f"unknown process {process!r}; choose one of {', '.join(PROCESSES)}")
    out.update(_w_decays(w_lep, w_had, rng))
    out["W_lep"], out["W_had"] = w_lep, w_had
    return out


def _detect(truth: dict[str, np.ndarray], det: DetectorModel, rng: np.random.Generator) -> dict[str, Any]:
    """Reconstructed objects (padded (N, K) arrays with a validity mask) and the selection."""
    n = len(truth["b1"])
    partons = np.stack([truth["b1"], truth["b2"], truth["q1"], truth["q2"]], axis=1)  # (N, 4, 4)
    flavour = np.stack([np.full(n, 5), np.full(n, 5), np.where(truth["charm"], 4, 1), np.ones(n, int)], axis=1)
    p_pt, p_eta, p_phi = pt_eta_phi(partons)
    energy = partons[..., 0]
    sigma = np.hypot(det.jet_stochastic / np.sqrt(np.maximum(energy, 1.0)), det.jet_constant)
    response = np.clip(rng.normal(det.jet_energy_scale, sigma), 0.1, None)
    j_pt = p_pt * response
    j_eta = p_eta + rng.normal(0.0, det.jet_angular, p_eta.shape)
    j_phi = p_phi + rng.normal(0.0, det.jet_angular, p_phi.shape)
    # extra radiation: Poisson count (at most 4), exponential pT spectrum above 15 GeV
    k = 4
    n_isr = np.minimum(rng.poisson(det.isr_mean, n), k)
    i_pt = 15.0 + rng.exponential(det.isr_pt_scale, (n, k))
    i_eta = rng.normal(0.0, 1.6, (n, k))
    i_phi = rng.uniform(-np.pi, np.pi, (n, k))
    i_valid = np.arange(k)[None, :] < n_isr[:, None]
    pt = np.concatenate([j_pt, i_pt], axis=1)
    eta = np.concatenate([j_eta, i_eta], axis=1)
    phi = np.arctan2(np.sin(np.concatenate([j_phi, i_phi], axis=1)), np.cos(np.concatenate([j_phi, i_phi], axis=1)))
    flav = np.concatenate([flavour, np.zeros((n, k), int)], axis=1)
    frac = np.abs(rng.normal(0.10, 0.03, pt.shape))
    jmass = np.sqrt((frac * pt * np.cosh(eta)) ** 2 * 0.3 + np.where(flav == 5, M_B**2, 0.0))
    valid = np.concatenate([np.ones((n, 4), bool), i_valid], axis=1)
    valid &= (pt > det.jet_pt_min) & (np.abs(eta) < det.jet_eta_max)
    tag_p = np.select([flav == 5, flav == 4], [det.btag_efficiency, det.ctag_rate], det.mistag_rate)
    btag = (rng.random(pt.shape) < tag_p).astype(np.float32)
    # MET: the neutrino, minus what the jets mismeasured, plus a soft-term resolution
    mis_x = np.sum(np.where(valid[:, :4], p_pt * np.cos(p_phi) - j_pt * np.cos(j_phi), 0.0), axis=1)
    mis_y = np.sum(np.where(valid[:, :4], p_pt * np.sin(p_phi) - j_pt * np.sin(j_phi), 0.0), axis=1)
    met_x = truth["neutrino"][:, 1] + mis_x + rng.normal(0.0, det.met_soft, n)
    met_y = truth["neutrino"][:, 2] + mis_y + rng.normal(0.0, det.met_soft, n)
    l_pt, l_eta, l_phi = pt_eta_phi(truth["lepton"])
    l_pt = l_pt * np.clip(rng.normal(1.0, det.lepton_resolution, n), 0.5, None)
    lep_ok = (l_pt > det.lepton_pt_min) & (np.abs(l_eta) < det.lepton_eta_max)
    selected = lep_ok & (valid.sum(axis=1) >= 4)
    return {
        "pt": pt,
        "eta": eta,
        "phi": phi,
        "mass": jmass,
        "btag": btag,
        "valid": valid,
        "l_pt": l_pt,
        "l_eta": l_eta,
        "l_phi": l_phi,
        "l_muon": truth["muon"],
        "met": np.hypot(met_x, met_y),
        "met_phi": np.arctan2(met_y, met_x),
        "selected": selected,
    }


def _jagged(values: np.ndarray, order: np.ndarray, valid_sorted: np.ndarray, dtype: Any) -> ak.Array:
    ordered = np.take_along_axis(values, order, axis=1)
    return ak.unflatten(ordered[valid_sorted].astype(dtype), valid_sorted.sum(axis=1))


def iter_chunks(
    process: str,
    n_events: int,
    *,
    seed: int = 1,
    detector: DetectorModel | None = None,
    chunk_size: int = 100_000,
    first_event: int = 0,
) -> Iterator[dict[str, Any]]:
    """Yield columns of selected events, ``chunk_size`` generated at a time, until ``n_events`` pass."""
    det = detector or DetectorModel()
    rng = np.random.default_rng([seed, PROCESSES.index(process) if process in PROCESSES else 99])
    produced = 0
    while produced < n_events:
        truth = generate_truth(process, chunk_size, rng, det)
        reco = _detect(truth, det, rng)
        sel = reco["selected"]
        take = np.flatnonzero(sel)[: n_events - produced]
        if len(take) == 0:
            continue
        valid = reco["valid"][take]
        key = np.where(valid, reco["pt"][take], -np.inf)
        order = np.argsort(-key, axis=1, kind="stable")
        valid_sorted = np.take_along_axis(valid, order, axis=1)
        m = len(take)
        sign = np.where(rng.random(m) < det.negative_weight_fraction, -1.0, 1.0)
        lep_charge = np.where(rng.random(m) < 0.5, -1, 1)
        one = np.ones(m, np.int64)  # one lepton per event, stored as a (jagged) collection
        events = first_event + produced + np.arange(m, dtype=np.int64)
        yield {
            "run": np.ones(m, np.int32),
            "luminosityBlock": (events // 1000 + 1).astype(np.int32),
            "event": events.astype(np.uint64),
            "Jet": ak.zip(
                {
                    name: _jagged(reco[name][take], order, valid_sorted, np.float32)
                    for name in ("pt", "eta", "phi", "mass", "btag")
                }
            ),
            "Lepton": ak.zip(
                {
                    "pt": ak.unflatten(reco["l_pt"][take].astype(np.float32), one),
                    "eta": ak.unflatten(reco["l_eta"][take].astype(np.float32), one),
                    "phi": ak.unflatten(reco["l_phi"][take].astype(np.float32), one),
                    "pdgId": ak.unflatten((np.where(reco["l_muon"][take], 13, 11) * lep_charge).astype(np.int32), one),
                }
            ),
            "MET_pt": reco["met"][take].astype(np.float32),
            "MET_phi": reco["met_phi"][take].astype(np.float32),
            "genWeight": sign.astype(np.float32),
        }
        produced += m


def generate(process: str, n_events: int, **kwargs: Any) -> ak.Array:
    """All selected events in memory (for tests and notebooks); files use :func:`write_ntuple`."""
    chunks = [ak.Array(c) for c in iter_chunks(process, n_events, **kwargs)]
    return ak.concatenate(chunks)


FLAT_JETS = 8  # slots; the generator's events have 4 to 8 jets
FLAT_MISSING = -999.0  # what flat ntuples conventionally write into an unused object slot


def flatten(chunk: dict[str, Any]) -> dict[str, np.ndarray]:
    """The same events in the *flat* layout many frameworks write: ``jet1_pt .. jet8_btag`` (unused
    slots -999), ``njet``, ``lep_pt/eta/phi``, ``met``, ``met_phi``, ``mc_weight``; no event ids."""
    jets, lep = chunk["Jet"], chunk["Lepton"]
    out: dict[str, np.ndarray] = {"njet": ak.to_numpy(ak.num(jets)).astype(np.int32)}
    for quantity, name in (("pt", "pt"), ("eta", "eta"), ("phi", "phi"), ("mass", "m"), ("btag", "btag")):
        padded = ak.fill_none(ak.pad_none(jets[quantity], FLAT_JETS, axis=1, clip=True), FLAT_MISSING)
        for i in range(FLAT_JETS):
            out[f"jet{i + 1}_{name}"] = ak.to_numpy(padded[:, i]).astype(np.float32)
    out.update({f"lep_{q}": ak.to_numpy(lep[q][:, 0]).astype(np.float32) for q in ("pt", "eta", "phi")})
    out.update(met=chunk["MET_pt"], met_phi=chunk["MET_phi"], mc_weight=chunk["genWeight"])
    return out


def write_ntuple(
    path: str | os.PathLike[str], process: str, n_events: int, *, tree: str = "Events", layout: str = "nanoaod",
    **kwargs: Any,
) -> None:
    """Write ``n_events`` selected events to a ROOT file (atomically, in chunks), NanoAOD-like
    (collections, event ids) or ``layout="flat"`` (see :func:`flatten`)."""
    from hepml.io.write import write_friend

    if layout not in ("nanoaod", "flat"):
        raise ConfigError(f"layout {layout!r}: choose nanoaod or flat")
    chunks = iter_chunks(process, n_events, **kwargs)
    write_friend(path, (flatten(c) for c in chunks) if layout == "flat" else chunks, tree=tree,
                 expected_entries=n_events, progress=f"generating {Path(path).name}")
