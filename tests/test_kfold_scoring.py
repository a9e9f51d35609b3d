"""k-fold by event number, bundles, the Scorer and friend-tree write-back of calibrated scores."""

from __future__ import annotations

import json
import pickle
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import uproot

from hepml.bundle import read_info
from hepml.errors import BundleError, ConfigError, MissingBranchError
from hepml.features import FeatureSpec, FeatureTable
from hepml.features.files import read_features
from hepml.scoring import LeakWarning, Scorer, score_files
from hepml.split import CALIBRATION, TRAIN, VALIDATION, fold_of, role_of
from hepml.tasks.higgs import train as kfold

from conftest import SPEC, leftovers


def test_split_is_deterministic_balanced_and_seeded() -> None:
    events = np.arange(300000)
    folds = fold_of(events, 3, seed=1)
    assert np.array_equal(folds, fold_of(events, 3, seed=1))
    assert not np.array_equal(folds, fold_of(events, 3, seed=2))
    assert np.allclose(np.bincount(folds) / len(events), 1 / 3, atol=0.01)
    roles = role_of(events, 3, seed=1)
    assert np.mean(roles == CALIBRATION) == pytest.approx(0.1, abs=0.01)
    assert np.mean(roles == VALIDATION) == pytest.approx(0.1, abs=0.01)
    # roles are independent of folds
    for j in range(3):
        assert np.mean(roles[folds == j] == TRAIN) == pytest.approx(0.8, abs=0.01)


def test_no_event_is_scored_by_a_model_that_trained_on_it(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    n = 3000
    events = rng.permutation(10 * n)[:n]
    table = FeatureTable(rng.normal(size=(n, 2)).astype(np.float32), ["a", "b"], np.ones(n),
                         rng.integers(0, 2, n).astype(np.float32), {"fold_key": events})
    seen: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    real = kfold.fold_masks

    def spy(*args, **kwargs):
        masks = real(*args, **kwargs)
        seen.append(tuple(m.copy() for m in masks))
        return masks

    monkeypatch.setattr(kfold, "fold_masks", spy)
    kfold.train_kfold(table, Path(__import__("tempfile").mkdtemp()) / "b", model="bdt", k=3, seed=5,
                      model_config={"max_iter": 5})
    scored = np.zeros(n, int)
    for train, val, test in seen:
        assert not np.any((train | val) & test)
        scored += test
    assert np.all(scored == 1)  # every event scored exactly once
    roles = role_of(events, 3, 5)
    for train, _, _ in seen:
        assert not np.any(train & (roles == CALIBRATION))  # the calibration part is never trained on


def test_bundle_contents_and_provenance(dnn_bundle: Path, higgs_features: list[Path]) -> None:
    info = read_info(dnn_bundle)
    assert info["kind"] == "keras" and info["k"] == 3 and len(info["columns"]) == 28
    assert set(info["provenance"]["inputs"]) == {str(p) for p in higgs_features}
    assert all(h.startswith("sha256:") for h in info["provenance"]["inputs"].values())
    assert "tensorflow" in info["provenance"]["versions"] and info["provenance"]["seed"] == 3
    cal = json.loads((dnn_bundle / "calibration.json").read_text())
    assert cal["method"] == "isotonic" and len(cal["x"]) == len(cal["y"])
    assert not list(dnn_bundle.glob("*.pkl")) and not list(dnn_bundle.glob("*.pickle"))


def test_scorer_reproduces_out_of_fold_scores(dnn_bundle: Path, higgs_files: dict[str, Path], tmp_path: Path) -> None:
    """Scoring the training files picks, per event, the fold model that never saw it."""
    out = tmp_path / "signal_scores.root"
    score_files(str(dnn_bundle), [f"{higgs_files['signal']}:Events"], [str(out)])
    friend = uproot.open(out)["scores"].arrays(library="np")
    source = uproot.open(higgs_files["signal"])["Events"].arrays(["event"], library="np")
    assert len(friend["score"]) == len(source["event"])
    np.testing.assert_array_equal(friend["event"], source["event"])  # same entries, same order
    oof = uproot.open(dnn_bundle / "oof.root")["oof"].arrays(["event", "score_raw", "score"], library="np")
    index = {e: i for i, e in enumerate(oof["event"])}
    rows = np.array([index[e] for e in friend["event"]])
    np.testing.assert_allclose(friend["score_raw"], oof["score_raw"][rows], atol=2e-5)
    np.testing.assert_allclose(friend["score"], oof["score"][rows], atol=2e-5)
    assert set(friend) >= {"score", "score_raw", "pass_cut", "run", "luminosityBlock", "event"}
    assert leftovers(tmp_path) == ["signal_scores.root"]


@pytest.mark.parametrize("model", ["bdt", "xgb"])
def test_tree_bundles_score_and_write_back_like_the_dnn(model: str, higgs_features: list[Path],
                                                         higgs_files: dict[str, Path], tmp_path: Path) -> None:
    """A BDT bundle is saved without pickle, reloads to the same scores, and writes back through
    the one scoring path: the friend tree equals the bundle's out-of-fold scores event by event."""
    from hepml.features.files import feature_sources

    spec = FeatureSpec.from_yaml(SPEC)
    table = read_features(higgs_features, spec.groups["high"], spec.event_id)
    bundle = tmp_path / model
    kfold.train_kfold(table, bundle, model=model, k=3, seed=3, spec_config=spec.config,
                      training_data=feature_sources(higgs_features))
    info = read_info(bundle)
    suffix = {"bdt": ".skops", "xgb": ".json"}[model]
    assert info["kind"] == "baseline" and info["models"] == [f"fold{j}{suffix}" for j in range(3)]
    assert not list(bundle.glob("*.pkl")) and not list(bundle.glob("*.pickle"))
    assert 0 < info["provenance"]["config"]["trained_with"]["trees"] < 500  # early-stopped on validation events
    out = tmp_path / "signal_scores.root"
    score_files(str(bundle), [f"{higgs_files['signal']}:Events"], [str(out)])
    friend = uproot.open(out)["scores"].arrays(library="np")
    oof = uproot.open(bundle / "oof.root")["oof"].arrays(["event", "score_raw", "score"], library="np")
    index = {e: i for i, e in enumerate(oof["event"])}
    rows = np.array([index[e] for e in friend["event"]])
    np.testing.assert_allclose(friend["score_raw"], oof["score_raw"][rows], atol=1e-6)
    np.testing.assert_allclose(friend["score"], oof["score"][rows], atol=1e-6)
    with pytest.raises(BundleError, match="ONNX export converts Keras networks"):
        from hepml.tasks.higgs.onnx import export_onnx

        export_onnx(bundle)


def test_a_planted_object_in_a_bdt_fold_is_refused(higgs_features: list[Path], tmp_path: Path) -> None:
    """skops trusts only the tree type: a fold file holding any other object never loads, even
    with the integrity record rewritten to match it."""
    import skops.io

    from hepml.bundle import write_info

    spec = FeatureSpec.from_yaml(SPEC)
    table = read_features(higgs_features, spec.groups["high"], spec.event_id)
    bundle = tmp_path / "bdt"
    kfold.train_kfold(table, bundle, model="bdt", k=3, seed=3, spec_config=spec.config,
                      model_config={"max_iter": 5})
    skops.io.dump({"trees": Fraction(1, 3)}, bundle / "fold1.skops")
    write_info(bundle, json.loads((bundle / "bundle.json").read_text()))
    with pytest.raises(BundleError, match="fold1.skops: holds types hepml does not trust"):
        Scorer(bundle)


def test_scorer_on_arrays_threads_and_pickle(dnn_bundle: Path, higgs_files: dict[str, Path]) -> None:
    scorer = Scorer.load(dnn_bundle)
    assert Scorer.load(dnn_bundle) is scorer  # loaded once per process
    arrays = uproot.open(higgs_files["background"])["Events"].arrays(scorer.branches, entry_stop=500)
    expected = scorer(arrays)["score"]
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        results[i] = scorer(arrays)["score"]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results.values():
        np.testing.assert_array_equal(r, expected)
    again = pickle.loads(pickle.dumps(scorer))
    assert again is scorer
    # a mapping of branch arrays works too; without the fold key it is refused (the folds' average
    # would score training events with networks that saw them) unless the events are independent
    mapping = {b: arrays[b] for b in scorer.branches if b != "event"}
    with pytest.raises(ConfigError, match=r"no fold key \('event'\).*independent=True"):
        scorer(mapping)
    with pytest.warns(LeakWarning):  # training events, averaged anyway: the leak check reports them
        averaged = scorer(mapping, independent=True, leaks="report")
    X = scorer.features(mapping)
    np.testing.assert_allclose(averaged["score_raw"], np.mean([m.predict(X) for m in scorer.models], axis=0),
                               rtol=1e-6)
    # independent data that happen to carry event numbers are averaged too
    with pytest.warns(LeakWarning):
        np.testing.assert_array_equal(scorer(arrays, independent=True, leaks="report")["score_raw"],
                                      averaged["score_raw"])


def test_scorer_missing_branch_is_named(dnn_bundle: Path, higgs_files: dict[str, Path], tmp_path: Path) -> None:
    scorer = Scorer.load(dnn_bundle)
    arrays = uproot.open(higgs_files["signal"])["Events"].arrays(entry_stop=10)
    with pytest.raises(MissingBranchError, match="needs branch 'MET_phi'"):
        scorer(arrays[[f for f in arrays.fields if f != "MET_phi"]])
    # a file without the branch: clear error and no output left behind
    stripped = tmp_path / "stripped.root"
    with uproot.recreate(stripped) as f:
        f["Events"] = {k: arrays[k] for k in ("run", "event", "MET_pt")}
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(MissingBranchError, match="stripped.root:Events: no branch"):
        score_files(str(dnn_bundle), [str(stripped)], [str(out / "s.root")])
    assert leftovers(out) == []


def test_bundle_errors(tmp_path: Path, dnn_bundle: Path) -> None:
    with pytest.raises(BundleError, match="no such bundle folder"):
        Scorer(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="not a hepml bundle"):
        Scorer(tmp_path / "empty")


def test_training_input_errors(higgs_features: list[Path], tmp_path: Path) -> None:
    spec = FeatureSpec.from_yaml(SPEC)
    table = read_features(higgs_features[:1], spec.groups["high"], spec.event_id)
    with pytest.raises(ConfigError, match="labels 0 and 1"):
        kfold.train_kfold(table, tmp_path / "b", model="bdt")
    with pytest.raises(MissingBranchError, match="no column 'nope'"):
        read_features(higgs_features, ["nope"], ["event"])
    assert leftovers(tmp_path) == []


def test_negative_weights_end_to_end(higgs_features: list[Path], tmp_path: Path) -> None:
    """Strongly negative-weighted events are accepted by training, calibration and evaluation."""
    from hepml.tasks.higgs.evaluate import evaluate

    spec = FeatureSpec.from_yaml(SPEC)
    table = read_features(higgs_features, spec.groups["high"], spec.event_id)
    rng = np.random.default_rng(4)
    table.weight = np.where(rng.random(len(table)) < 0.2, -0.5, 1.0) * table.weight
    assert (table.weight < 0).mean() > 0.15
    for model in ("dnn", "bdt"):
        kfold.train_kfold(table, tmp_path / f"{model}_high", model=model, k=2, seed=1,
                          model_config={"epochs": 2, "units": 16, "layers": 1} if model == "dnn" else {"max_iter": 20},
                          calibration="platt", spec_config=spec.config)
    bundles = [str(tmp_path / "dnn_high"), str(tmp_path / "bdt_high")]
    metrics = evaluate(bundles, tmp_path / "m.json", reference="dnn_high")
    assert 0.5 < metrics["auc"]["dnn"]["high"] < 1 and 0.5 < metrics["auc"]["bdt"]["high"] < 1
    oof = uproot.open(tmp_path / "dnn_high" / "oof.root")["oof"].arrays(["weight"], library="np")
    assert (oof["weight"] < 0).any()


def test_events_failing_the_cut_get_the_sentinel(dnn_bundle: Path, higgs_files: dict[str, Path],
                                                 tmp_path: Path) -> None:
    """A number computed from fill values is never written as a score: NaN (or --fail-score)."""
    import awkward as ak

    from hepml.cli import main

    events = uproot.open(higgs_files["background"])["Events"].arrays(entry_stop=600)
    short = np.arange(len(events)) % 3 == 0  # every third event keeps two jets: fails num(Jet_pt) >= 4
    jets = ak.zip({f: ak.where(short, events[f"Jet_{f}"][:, :2], events[f"Jet_{f}"])
                   for f in ("pt", "eta", "phi", "mass", "btag")})
    leptons = ak.zip({f: events[f"Lepton_{f}"] for f in ("pt", "eta", "phi", "pdgId")})
    flat = {k: events[k] for k in ("run", "luminosityBlock", "event", "MET_pt", "MET_phi", "genWeight")}
    path = tmp_path / "mixed.root"
    with uproot.recreate(path) as f:
        f.mktree("Events", {**{k: v.type.content for k, v in flat.items()}, "Jet": jets.type.content,
                            "Lepton": leptons.type.content},
                 field_name=lambda outer, inner: f"{outer}_{inner}", counter_name=lambda counted: f"n{counted}")
        f["Events"].extend({**flat, "Jet": jets, "Lepton": leptons})
    for extra, sentinel in (([], None), (["--fail-score", "-1"], -1.0)):
        out = tmp_path / f"scores{len(extra)}.root"
        assert main(["score", str(dnn_bundle), f"{path}:Events", "--out", str(out), *extra]) == 0
        friend = uproot.open(out)["scores"].arrays(library="np")
        np.testing.assert_array_equal(friend["pass_cut"], ~short)
        for key in ("score", "score_raw"):
            failing = friend[key][short]
            assert np.all(np.isnan(failing)) if sentinel is None else np.all(failing == sentinel)
            assert np.all((friend[key][~short] >= 0) & (friend[key][~short] <= 1))


def test_files_without_the_fold_key_need_independent(dnn_bundle: Path, higgs_files: dict[str, Path],
                                                     tmp_path: Path) -> None:
    """Scoring training events by the folds' average leaks (AUC 0.74 -> 0.84 in the issue): refused."""
    import subprocess
    import sys

    events = uproot.open(higgs_files["signal"])["Events"]
    stripped = tmp_path / "no_event.root"
    with uproot.recreate(stripped) as f:
        keep = [k for k in events.keys()
                if k not in ("event", "nJet", "nLepton") and not k.startswith(("Jet_", "Lepton_"))]
        f.mktree("Events", {k: events[k].array(entry_stop=1).type.content for k in keep}
                 | {"Jet": events.arrays(filter_name="Jet_*", entry_stop=1, how="zip")["Jet"].type.content,
                    "Lepton": events.arrays(filter_name="Lepton_*", entry_stop=1, how="zip")["Lepton"].type.content},
                 field_name=lambda outer, inner: f"{outer}_{inner}", counter_name=lambda counted: f"n{counted}")
        zipped = events.arrays(filter_name=["Jet_*", "Lepton_*"], entry_stop=300, how="zip")
        f["Events"].extend({**{k: events[k].array(entry_stop=300) for k in keep}, "Jet": zipped["Jet"],
                            "Lepton": zipped["Lepton"]})
    out = tmp_path / "out"
    cli = [sys.executable, "-m", "hepml.cli", "score", str(dnn_bundle), f"{stripped}:Events",
           "--out", str(out / "s.root")]
    refused = subprocess.run(cli, capture_output=True, text=True)
    assert refused.returncode == 1 and "no fold key ('event')" in refused.stderr and "--independent" in refused.stderr
    assert not out.exists() or leftovers(out) == []
    # these are training events without their key: the leak check sees it; --leaks report scores them anyway
    leak = subprocess.run([*cli, "--independent"], capture_output=True, text=True)
    assert leak.returncode == 1 and "300 of 300 events are events this bundle trained on" in leak.stderr
    allowed = subprocess.run([*cli, "--independent", "--leaks", "report"], capture_output=True, text=True)
    assert allowed.returncode == 0 and "LeakWarning" in allowed.stderr, allowed.stderr
    assert uproot.open(out / "s.root")["scores"].num_entries == 300


def test_a_training_file_is_not_independent_data(dnn_bundle: Path, higgs_files: dict[str, Path],
                                                 tmp_path: Path) -> None:
    """The bundle records the UUIDs of the ntuples it trained on; data mode refuses them."""
    from hepml.io.read import Source, file_uuid

    info = read_info(dnn_bundle)
    assert file_uuid(Source(str(higgs_files["signal"]))) in info["training_data"]
    out = tmp_path / "s.root"
    with pytest.raises(ConfigError, match="trained on this file.*without --independent"):
        score_files(str(dnn_bundle), [f"{higgs_files['signal']}:Events"], [str(out)], independent=True)
    assert leftovers(tmp_path) == []
    score_files(str(dnn_bundle), [f"{higgs_files['signal']}:Events"], [str(out)])  # out-of-fold: fine
    assert uproot.open(out)["scores"].num_entries == 4000
