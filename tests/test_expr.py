"""The safe expression language: what it computes and what it refuses."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from hepml.errors import ExpressionError
from hepml.expr import Expression

ARRAYS = ak.Array({
    "Jet_pt": [[50.0, 30.0, 20.0], [40.0], []],
    "Jet_eta": [[0.1, -1.0, 2.0], [0.5], []],
    "Jet_phi": [[0.0, 1.0, -2.0], [3.0], []],
    "Jet_mass": [[5.0, 4.0, 3.0], [6.0], []],
    "MET_px": [3.0, 0.0, -6.0],
    "MET_py": [4.0, 1.0, 8.0],
})


def ev(text: str) -> object:
    return Expression(text, context="test").evaluate(ARRAYS)


@pytest.mark.parametrize("text, message", [
    ("__import__('os').system('echo pwned')", "dunder names are refused"),
    ("__import__('os')", "dunder names are refused"),
    ("Jet_pt.__class__", "dunder"),
    ("Jet_pt._layout", "private"),
    ("open('x')", "unknown function 'open'"),
    ("eval('1')", "unknown function 'eval'"),
    ("foo(Jet_pt)", "unknown function 'foo'"),
    ("lambda: 1", "Lambda is not allowed"),
    ("[x for x in Jet_pt]", "not allowed"),
    ("'text'", "numbers only"),
    ("Jet_pt.numerator", "four-vector attributes"),
    ("Jet_pt +", "cannot parse"),
    ("sort(Jet_pt, reverse=True)", "no keyword 'reverse'"),
    ("Jet_pt[0](1)", "only calls of named functions"),
])
def test_refused(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as err:
        Expression(text, context="features.bad")
    assert message in str(err.value)
    assert "features.bad" in str(err.value)


def test_names_exclude_functions() -> None:
    assert Expression("sqrt(MET_px**2 + MET_py**2)").names == {"MET_px", "MET_py"}


def test_arithmetic_and_functions() -> None:
    np.testing.assert_allclose(ak.to_numpy(ev("sqrt(MET_px**2 + MET_py**2)")), [5.0, 1.0, 10.0])
    assert ak.to_list(ev("num(Jet_pt)")) == [3, 1, 0]
    assert ak.to_list(ev("max(Jet_pt)")) == [50.0, 40.0, None]
    assert ak.to_list(ev("sum(Jet_pt)")) == [100.0, 40.0, 0.0]
    assert ak.to_list(ev("where(MET_px > 0, 1, -1)")) == [1, -1, -1]
    assert ak.to_list(ev("(MET_px > 0) and (MET_py > 3) or MET_px < -5")) == [True, False, True]
    assert ak.to_list(ev("not (MET_px > 0)")) == [False, True, True]
    assert ak.to_list(ev("0 <= MET_px < 4")) == [True, True, False]


def test_indexing_pads_with_none_and_slices() -> None:
    assert ak.to_list(ev("Jet_pt[:, 0]")) == [50.0, 40.0, None]
    assert ak.to_list(ev("Jet_pt[:, 1]")) == [30.0, None, None]
    assert ak.to_list(ev("Jet_pt[:, :2]")) == [[50.0, 30.0], [40.0], []]
    assert ak.to_list(ev("Jet_pt[Jet_pt > 25]")) == [[50.0, 30.0], [40.0], []]
    assert ak.to_list(ev("first(Jet_pt, 2, fill=-1)")) == [[50.0, 30.0], [40.0, -1.0], [-1.0, -1.0]]
    assert ak.to_list(ev("Jet_pt[argsort(Jet_eta)]")) == [[20.0, 50.0, 30.0], [40.0], []]


def test_four_vector_kinematics_by_hand() -> None:
    jets = "p4(Jet_pt, Jet_eta, Jet_phi, Jet_mass)"
    pt, eta, phi, m = (np.array(v) for v in ([50.0, 30.0], [0.1, -1.0], [0.0, 1.0], [5.0, 4.0]))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    mjj = np.sqrt(e.sum() ** 2 - px.sum() ** 2 - py.sum() ** 2 - pz.sum() ** 2)
    assert ev(f"mass({jets}[:, 0] + {jets}[:, 1])")[0] == pytest.approx(mjj, rel=1e-9)
    assert ev(f"vsum({jets}).mass")[0] == pytest.approx(
        np.sqrt(
            (e.sum() + np.sqrt((20 * np.cos(-2.0)) ** 2 + (20 * np.sin(-2.0)) ** 2 + (20 * np.sinh(2.0)) ** 2 + 9)) ** 2
            - (px.sum() + 20 * np.cos(-2.0)) ** 2
            - (py.sum() + 20 * np.sin(-2.0)) ** 2
            - (pz.sum() + 20 * np.sinh(2.0)) ** 2
        ),
        rel=1e-9,
    )
    dphi = 1.0
    assert ev(f"deltaR({jets}[:, 0], {jets}[:, 1])")[0] == pytest.approx(np.hypot(1.1, dphi), rel=1e-9)
    assert ev(f"{jets}.pt[:, 0]")[0] == pytest.approx(50.0)


def test_neutrino_satisfies_w_mass_constraint(rng: np.random.Generator) -> None:
    """W -> l nu decays: the solved neutrino gives m(l nu) = mW and one of the roots is the true pz."""
    from hepml.simulate.kinematics import pt_eta_phi, system, two_body_decay

    n = 200
    w = system(np.full(n, 80.4), rng.gamma(2, 20, n), rng.normal(0, 1, n), rng.uniform(-3, 3, n))
    lep, nu = two_body_decay(w, np.zeros(n), np.zeros(n), rng)
    l_pt, l_eta, l_phi = pt_eta_phi(lep)
    n_pt, _, n_phi = pt_eta_phi(nu)
    arrays = ak.Array({"l_pt": l_pt, "l_eta": l_eta, "l_phi": l_phi, "met": n_pt, "met_phi": n_phi})
    lep_expr = "p4(l_pt, l_eta, l_phi, 0)"
    m = Expression(f"mass({lep_expr} + neutrino({lep_expr}, met, met_phi))").evaluate(arrays)
    np.testing.assert_allclose(ak.to_numpy(m), 80.4, rtol=1e-5)
    pz = ak.to_numpy(Expression(f"neutrino({lep_expr}, met, met_phi).pz").evaluate(arrays))
    other = ak.to_numpy(Expression(f"neutrino({lep_expr}, met, met_phi, mw=80.4).pz").evaluate(arrays))
    assert np.mean(np.isclose(pz, nu[:, 3], rtol=1e-4, atol=1e-3)) > 0.5  # the smaller-|pz| root is usually right
    np.testing.assert_array_equal(pz, other)


def test_evaluation_error_names_the_expression() -> None:
    with pytest.raises(ExpressionError, match="features.x.*evaluation failed"):
        Expression("Jet_pt + Jet_pt[:, :1]", context="features.x").evaluate(ARRAYS)


def _mass(*vectors: tuple[float, float, float, float]) -> float:
    px, py, pz, e = (sum(v[i] for v in vectors) for i in range(4))
    return float(np.sqrt(max(e * e - px * px - py * py - pz * pz, 0.0)))


def test_combinatorics_against_a_hand_computation_on_hzz(hzz: str) -> None:
    """pairs, combinations, best, argmin/argmax and masks on the real uproot-HZZ.root muons and jets,
    against explicit loops over itertools.combinations."""
    import itertools

    import uproot

    arrays = uproot.open(hzz)["events"].arrays()[:300]
    muons = "p4xyz(Muon_Px, Muon_Py, Muon_Pz, Muon_E)"
    jets = "p4xyz(Jet_Px, Jet_Py, Jet_Pz, Jet_E)"
    pair_masses = Expression(f"mass(pairs({muons}))").evaluate(arrays)
    z = Expression(f"mass(best(pairs({muons}), abs(mass(pairs({muons})) - 91.19)))").evaluate(arrays)
    trijets = Expression(f"mass(combinations({jets}, 3))").evaluate(arrays)
    hardest_isolated = Expression("Muon_Px[Muon_Iso < 1][argmax(Muon_E[Muon_Iso < 1])][:, 0]").evaluate(arrays)
    checked = 0
    for i in range(len(arrays)):
        mu = list(zip(*(arrays[f"Muon_{c}"][i].tolist() for c in ("Px", "Py", "Pz", "E"))))
        expected = [_mass(a, b) for a, b in itertools.combinations(mu, 2)]
        np.testing.assert_allclose(pair_masses[i].tolist(), expected, rtol=1e-5)
        if expected:
            assert z[i] == pytest.approx(min(expected, key=lambda m: abs(m - 91.19)), rel=1e-5)
            checked += 1
        else:
            assert z[i] is None
        jet = list(zip(*(arrays[f"Jet_{c}"][i].tolist() for c in ("Px", "Py", "Pz", "E"))))
        np.testing.assert_allclose(trijets[i].tolist(), [_mass(*c) for c in itertools.combinations(jet, 3)], rtol=1e-5)
        isolated = zip(arrays["Muon_E"][i], arrays["Muon_Px"][i], arrays["Muon_Iso"][i])
        iso = [(e, px) for e, px, isolation in isolated if isolation < 1]
        assert hardest_isolated[i] == (max(iso)[1] if iso else None)
    assert checked > 150  # events with two or more muons


def test_combinatorics_refuse_what_they_cannot_do() -> None:
    with pytest.raises(ExpressionError, match="n from 2 to 5"):
        ev("combinations(Jet_pt, 7)")
    with pytest.raises(ExpressionError, match="a list of objects per event"):
        ev("pairs(MET_px)")
    assert ev("argmin(Jet_pt)").tolist() == [[2], [0], [None]]
    assert ev("sum(pairs(Jet_pt))").tolist() == [200.0, 0.0, 0.0]  # (50+30) + (50+20) + (30+20)


@pytest.mark.parametrize("text", [
    "mass(p4(Jet_pt, Jet_eta, Jet_phi, Jet_mass)[:, 0] + p4(Jet_pt, Jet_eta, Jet_phi, Jet_mass)[:, 1])",
    "pt(p4(Jet_pt, Jet_eta, Jet_phi, Jet_mass)[:, 1] - p4(Jet_pt, Jet_eta, Jet_phi, Jet_mass)[:, 0])",
    "Jet_pt[:, 1]",
    "mass(pairs(p4(Jet_pt, Jet_eta, Jet_phi, Jet_mass)))",
    "mass(combinations(p4(Jet_pt, Jet_eta, Jet_phi, Jet_mass), 3))",
    "combinations(Jet_pt, 3)",
    "mass(best(pairs(p4(Jet_pt, Jet_eta, Jet_phi, Jet_mass)),"
    " abs(mass(pairs(p4(Jet_pt, Jet_eta, Jet_phi, Jet_mass))) - 80.4)))",
])
def test_numpy_fast_paths_give_awkwards_answer(text: str) -> None:
    """The numpy paths (one four-vector per event, jagged [:, k], p4 and combinations on flat contents)
    against awkward's own operations: the same events reordered are IndexedArrays, on which every
    fast path declines."""
    rng = np.random.default_rng(3)
    counts = rng.integers(2, 7, 500)
    n = int(counts.sum())
    flat = {"Jet_pt": rng.exponential(40, n) + 20, "Jet_eta": rng.normal(0, 1.5, n),
            "Jet_phi": rng.uniform(-np.pi, np.pi, n), "Jet_mass": rng.exponential(5, n)}
    arrays = ak.Array({k: ak.unflatten(v, counts) for k, v in flat.items()})
    order = rng.permutation(len(arrays))
    reordered = arrays[order]
    assert isinstance(reordered["Jet_pt"].layout, ak.contents.IndexedArray)
    fast = Expression(text, context="test").evaluate(arrays)
    slow = Expression(text, context="test").evaluate(reordered)
    fast, slow = ak.Array(fast)[order], ak.Array(slow)
    assert ak.all(ak.num(fast, axis=-1) == ak.num(slow, axis=-1)) if fast.ndim > 1 else len(fast) == len(slow)
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(fast, axis=None)), ak.to_numpy(ak.flatten(slow, axis=None)),
                               rtol=1e-9)
