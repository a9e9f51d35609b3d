"""Feature building against ROOT's RDataFrame on one thread (same run, same file, same features).

    python tests/benchmarks/bench_rdataframe.py [--events 1000000] [--workdir /tmp/hepml-bench]

The 28 HIGGS features of workflows/config/higgs_features.yaml, written by hand in C++ for
RDataFrame (``Define`` + ``AsNumpy``, implicit multi-threading off): the 21 kinematic columns and
the 7 masses with the same jet assignment (b-tag ranking, the light-jet pair closest to the W
mass among all pairs, the neutrino's smaller-|pz| root, the b jet closest to the top mass).  Both
read the same ntuple (made by bench_features.py, or here); the masses are compared event by
event before anything is timed, so the two sides compute the same thing.  Needs PyROOT
(``pip install root``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from timing import best_of

from hepml.features import FeatureSpec
from hepml.simulate.higgs import write_ntuple

SPEC = Path(__file__).resolve().parents[2] / "workflows" / "config" / "higgs_features.yaml"
MASSES = ["m_jj", "m_jjj", "m_lv", "m_jlv", "m_bb", "m_wbb", "m_wwbb"]

CODE = r"""
#include <Math/Vector4D.h>
#include <ROOT/RVec.hxx>
using ROOT::RVecF; using ROOT::RVecD; using P4 = ROOT::Math::PxPyPzEVector;
P4 hepml_p4(double pt, double eta, double phi, double m) {
  double p = pt * std::cosh(eta);
  return P4(pt * std::cos(phi), pt * std::sin(phi), pt * std::sinh(eta), std::sqrt(p * p + m * m));
}
RVecD hepml_masses(const RVecF& pt, const RVecF& eta, const RVecF& phi, const RVecF& mass, const RVecF& btag,
                   float lpt, float leta, float lphi, float met, float metphi) {
  const auto n = pt.size();
  auto order = ROOT::VecOps::Argsort(btag + 1e-4f * pt, [](float a, float b) { return a > b; });
  std::vector<P4> jets;
  for (auto i : order) jets.push_back(hepml_p4(pt[i], eta[i], phi[i], mass[i]));
  P4 b1 = jets[0], b2 = jets[1], wjj; double best = 1e300;
  for (size_t i = 2; i < n; ++i) for (size_t j = i + 1; j < n; ++j) {
    P4 s = jets[i] + jets[j]; double d = std::abs(s.M() - 80.4);
    if (d < best) { best = d; wjj = s; }
  }
  P4 lep = hepml_p4(lpt, leta, lphi, 0.);
  double nx = met * std::cos(metphi), ny = met * std::sin(metphi), lpt2 = lep.Px() * lep.Px() + lep.Py() * lep.Py();
  double mu = 0.5 * 80.4 * 80.4 + lep.Px() * nx + lep.Py() * ny, a = mu * lep.Pz() / lpt2;
  double disc = a * a - (lep.E() * lep.E() * (nx * nx + ny * ny) - mu * mu) / lpt2;
  double root = std::sqrt(std::max(disc, 0.)), pz = std::abs(a - root) < std::abs(a + root) ? a - root : a + root;
  if (!(disc > 0)) pz = a;
  P4 wlv = lep + P4(nx, ny, pz, std::sqrt(nx * nx + ny * ny + pz * pz));
  bool b1_had = std::abs((wjj + b1).M() - 172.5) < std::abs((wjj + b2).M() - 172.5);
  return {wjj.M(), b1_had ? (wjj + b1).M() : (wjj + b2).M(), wlv.M(), b1_had ? (wlv + b2).M() : (wlv + b1).M(),
          (b1 + b2).M(), (wjj + b1 + b2).M(), (wjj + wlv + b1 + b2).M()};
}
"""


def rdataframe_columns(path: Path) -> dict[str, np.ndarray]:
    import ROOT

    frame = ROOT.RDataFrame("Events", str(path)).Filter("Jet_pt.size() >= 4")
    frame = frame.Define("masses", "hepml_masses(Jet_pt, Jet_eta, Jet_phi, Jet_mass, Jet_btag, Lepton_pt[0], "
                                   "Lepton_eta[0], Lepton_phi[0], MET_pt, MET_phi)")
    columns = []
    for what, branch in (("pt", "pt"), ("eta", "eta"), ("phi", "phi")):
        frame = frame.Define(f"lepton_{what}", f"Lepton_{branch}[0]")
        columns.append(f"lepton_{what}")
    frame = frame.Define("met", "MET_pt").Define("met_phi", "MET_phi")
    columns += ["met", "met_phi"]
    for j in range(4):
        for what in ("pt", "eta", "phi", "btag"):
            frame = frame.Define(f"jet{j + 1}_{what}", f"Jet_{what}[{j}]")
            columns.append(f"jet{j + 1}_{what}")
    for i, name in enumerate(MASSES):
        frame = frame.Define(name, f"masses[{i}]")
    return {k: np.asarray(v) for k, v in frame.AsNumpy(columns + MASSES).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", default="/tmp/hepml-bench")
    args = parser.parse_args()
    path = Path(args.workdir) / f"higgs_signal_{args.events}.root"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_ntuple(path, "signal", args.events, seed=1)
    import ROOT

    ROOT.DisableImplicitMT()  # one thread, as hepml's one process
    source = Path(args.workdir) / "hepml_masses.C"  # compiled with optimisation (ACLiC), not interpreted
    source.write_text(CODE)
    if not ROOT.gSystem.CompileMacro(str(source), "kO"):
        print("ACLiC could not compile the helper; it runs JIT-compiled by cling instead")
        ROOT.gInterpreter.Declare(CODE)
    spec = FeatureSpec.from_yaml(SPEC)

    def hepml() -> np.ndarray:
        return np.concatenate([t.X for t in spec.iter_tables(str(path))])

    ours, theirs = hepml(), rdataframe_columns(path)  # also the warm-up (JIT, file cache)
    differ = {}
    for i, name in enumerate(spec.columns):
        # hepml computes in the branches' float32, this C++ in double: a pair whose |m - 80.4| ties
        # another's to float32 precision can be chosen differently (1 event in 10^6 here)
        bad = int((~np.isclose(ours[:, i], theirs[name], rtol=2e-4, atol=2e-3)).sum())
        assert bad <= 1e-5 * len(ours), f"{name}: {bad} of {len(ours)} events differ"
        if bad:
            differ[name] = bad
    print(f"all {len(spec.columns)} features agree event by event ({len(ours)} events after the cut; beyond float32 "
          f"rounding: {differ or 'none'})")
    t_rdf = best_of(args.repeat, lambda: rdataframe_columns(path))
    t_hepml = best_of(args.repeat, hepml)
    n = args.events
    print(f"RDataFrame, 1 thread, Define + AsNumpy : {n / t_rdf:12,.0f} events/s ({t_rdf:.2f} s)")
    print(f"hepml features (28), 1 process         : {n / t_hepml:12,.0f} events/s ({t_hepml:.2f} s)  "
          f"ratio {t_rdf / t_hepml:.2f}")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"(whole benchmark {time.perf_counter() - start:.0f} s)")
