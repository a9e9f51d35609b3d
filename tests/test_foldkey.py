"""Fold keys for ntuples without event numbers (uproot-HZZ.root has none): hash(...) of event
values and 'entry', trained and scored end to end, each event scored by the network that never
saw it; keys that cannot work are refused with the spec key named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import uproot

from hepml.errors import BundleError, ConfigError, MissingBranchError
from hepml.expr import parse
from hepml.features import FeatureSpec
from hepml.features.files import read_features, write_features
from hepml.features.foldkey import FOLD_KEY, file_name_hash
from hepml.scoring import LeakWarning, Scorer
from hepml.split import fold_of
from hepml.tasks.higgs.train import train_kfold

from conftest import rehash

FEATURES = {"met": "sqrt(MET_px**2 + MET_py**2)", "n_jets": "NJet", "n_muons": "NMuon",
            "mu_e": {"expr": "Muon_E", "first": 1, "fill": -1}}
TINY_DNN = {"epochs": 2, "units": 16, "layers": 1}


def hzz_spec(**extra: object) -> dict[str, object]:
    return {"tree": "events", "features": FEATURES, "label": "NPrimaryVertices > 10", "weight": "EventWeight",
            **extra}


def test_hash_is_deterministic_exact_and_per_event() -> None:
    a, b = np.array([1.5, 2.5, 2.5, 1.5]), np.array([1, 1, 2, 1])
    keys = parse("hash(a, b)").evaluate({"a": a, "b": b})
    assert keys.dtype == np.int64 and np.all(keys >= 0)
    assert keys[0] == keys[3] and len(set(keys[:3].tolist())) == 3
    # float32 and float64 of the same value give the same key; the next float32 a different one
    f32 = np.array([1.5, np.nextafter(np.float32(1.5), np.float32(2))], np.float32)
    assert parse("hash(x)").evaluate({"x": f32})[0] == parse("hash(x)").evaluate({"x": np.array([1.5])})[0]
    assert len(set(parse("hash(x)").evaluate({"x": f32}).tolist())) == 2
    with pytest.raises(ValueError, match="one number per event"):
        parse("hash(x)").evaluate({"x": __import__("awkward").Array([[1.0], [2.0, 3.0]])})


def test_default_fold_key_on_a_file_without_event_numbers_names_the_key(hzz: str) -> None:
    with pytest.raises(MissingBranchError, match=r"no branch 'event'.*fold_key \(event, the default\).*hash\(\.\.\.\)"):
        list(FeatureSpec(hzz_spec()).iter_tables(hzz))


@pytest.mark.parametrize("key, message", [
    ("MET_px", r"fold_key 'MET_px' gives floats \(wrap them in hash"),
    ("7", "one constant for every event"),
    ("Muon_Px", "not one integer per event"),
])
def test_unusable_fold_keys_are_refused(hzz: str, key: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        list(FeatureSpec(hzz_spec(fold_key=key)).iter_tables(hzz))


@pytest.mark.parametrize("key", ["hash(MET_px, MET_py, NJet)", "entry"])
def test_out_of_fold_scores_without_event_numbers(tmp_path: Path, hzz: str, key: str) -> None:
    """Training keys (feature file) and scoring keys (recomputed from the ntuple) agree, so scoring
    the training file gives every event exactly its out-of-fold score."""
    spec = FeatureSpec(hzz_spec(fold_key=key))
    assert write_features(spec, hzz, tmp_path / "f.root") == 2421
    table = read_features([tmp_path / "f.root"], spec.columns, spec.id_columns, fold_key=spec.fold_key.text)
    keys = table.event_id[FOLD_KEY]
    assert len(np.unique(keys)) == len(keys)  # every HZZ event has its own key
    if key == "entry":
        assert np.array_equal(keys & 0xFFFFFFFF, np.arange(2421))
        assert np.all(keys >> 32 == file_name_hash(hzz))
    assert np.bincount(fold_of(keys, 3, 0)).min() > 700  # the folds are balanced
    info = train_kfold(table, tmp_path / "bundle", model="dnn", k=3, model_config=TINY_DNN, spec_config=spec.config)
    assert info["fold_key"] == key
    Scorer.load(tmp_path / "bundle").score_file(hzz, tmp_path / "scores.root")
    scored = uproot.open(tmp_path / "scores.root")["scores"]["score_raw"].array(library="np")
    oof = uproot.open(tmp_path / "bundle" / "oof.root")["oof"].arrays(["score_raw", FOLD_KEY], library="np")
    assert np.array_equal(oof[FOLD_KEY], keys)
    np.testing.assert_allclose(scored, oof["score_raw"], rtol=1e-5, atol=1e-6)
    # the average of the folds (independent mode) is a different number for most events
    with pytest.warns(LeakWarning):  # the training events themselves: the leak check reports them
        averaged = Scorer.load(tmp_path / "bundle")(uproot.open(hzz)["events"].arrays(), independent=True,
                                                    leaks="report")["score_raw"]
    assert np.mean(np.abs(averaged - scored) > 1e-4) > 0.5


def test_features_built_with_another_fold_key_are_refused(tmp_path: Path, hzz: str) -> None:
    write_features(FeatureSpec(hzz_spec(fold_key="entry")), hzz, tmp_path / "f.root")
    spec = FeatureSpec(hzz_spec(fold_key="hash(MET_px)"))
    with pytest.raises(ConfigError, match=r"f.root: built with fold_key 'entry', but the spec says 'hash\(MET_px\)'"):
        read_features([tmp_path / "f.root"], spec.columns, spec.id_columns, fold_key=spec.fold_key.text)


def test_feature_files_with_and_without_a_fold_key_column_are_refused_together(tmp_path: Path, hzz: str) -> None:
    """A file from a hepml before fold keys beside a current one: named, not a KeyError."""
    from hepml.features.files import TREE

    spec = FeatureSpec(hzz_spec(fold_key="entry"))
    write_features(spec, hzz, tmp_path / "new.root")
    columns = uproot.open(tmp_path / "new.root")[TREE].arrays(library="np")
    with uproot.recreate(tmp_path / "old.root") as out:
        out[TREE] = {k: v for k, v in columns.items() if k != FOLD_KEY}
    shutil.copy(tmp_path / "new.root", tmp_path / "again.root")
    both = read_features([tmp_path / "new.root", tmp_path / "again.root"], spec.columns, spec.id_columns)
    half = len(columns["weight"])
    assert len(both) == 2 * half and np.array_equal(both.X[:half], both.X[half:])
    with pytest.raises(ConfigError, match=r"old.root:\w+: id columns \[\] differ from .*new.root's \['" + FOLD_KEY):
        read_features([tmp_path / "new.root", tmp_path / "old.root"], spec.columns)


def test_bundle_whose_fold_key_differs_from_its_spec_is_refused(tmp_path: Path, hzz: str) -> None:
    spec = FeatureSpec(hzz_spec(fold_key="entry"))
    write_features(spec, hzz, tmp_path / "f.root")
    table = read_features([tmp_path / "f.root"], spec.columns, spec.id_columns)
    train_kfold(table, tmp_path / "b", model="dnn", k=2, model_config=TINY_DNN, spec_config=spec.config)
    shutil.copytree(tmp_path / "b", tmp_path / "edited")
    info = json.loads((tmp_path / "edited" / "bundle.json").read_text())
    info["fold_key"] = "NJet"
    (tmp_path / "edited" / "bundle.json").write_text(json.dumps(info))
    with pytest.raises(BundleError, match=r"edited/bundle.json: key 'fold_key' was changed after the bundle was"):
        Scorer(tmp_path / "edited")
    rehash(tmp_path / "edited")  # a writer that got it wrong: the check behind the integrity record holds too
    with pytest.raises(BundleError, match=r"edited/bundle.json: fold_key 'NJet' differs from its spec's 'entry'"):
        Scorer(tmp_path / "edited")


def test_entry_key_needs_the_file(tmp_path: Path, hzz: str) -> None:
    """Arrays handed over without their file cannot carry an entry-based key: refused, not averaged."""
    spec = FeatureSpec(hzz_spec(fold_key="entry"))
    write_features(spec, hzz, tmp_path / "f.root")
    table = read_features([tmp_path / "f.root"], spec.columns, spec.id_columns)
    train_kfold(table, tmp_path / "b", model="dnn", k=2, model_config=TINY_DNN, spec_config=spec.config)
    events = uproot.open(hzz)["events"].arrays()
    with pytest.raises(ConfigError, match=r"no fold key \('entry'\)"):
        Scorer.load(tmp_path / "b")(events)
    keyed = Scorer.load(tmp_path / "b")(events, entries=np.arange(len(events)), file=hzz)
    assert np.isfinite(keyed["score"]).all()


def test_flat_layout_spec_gives_the_nanoaod_features(tmp_path: Path) -> None:
    """The same generated events written flat (jet1_pt .. jet4_btag, no ids) and NanoAOD-like give
    identical features through flat_features.yaml (stack(...)) and higgs_features.yaml."""
    from hepml.features import FeatureTable
    from hepml.simulate.higgs import write_ntuple

    from conftest import REPO

    write_ntuple(tmp_path / "nano.root", "background", 1500, seed=4)
    write_ntuple(tmp_path / "flat.root", "background", 1500, seed=4, layout="flat", tree="tree")
    assert not {"run", "event", "luminosityBlock"} & set(uproot.open(tmp_path / "flat.root")["tree"].keys())
    nano = FeatureSpec.from_yaml(REPO / "workflows/config/higgs_features.yaml")
    flat = FeatureSpec.from_yaml(REPO / "workflows/config/flat_features.yaml")
    a = FeatureTable.concat(nano.iter_tables(str(tmp_path / "nano.root")))
    b = FeatureTable.concat(flat.iter_tables(str(tmp_path / "flat.root")))
    assert a.names == b.names and len(a) == len(b) == 1500
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.weight, b.weight)
    assert len(np.unique(b.event_id[FOLD_KEY])) == 1500


def test_cli_refusal_of_a_missing_fold_key_leaves_nothing(tmp_path: Path, hzz: str) -> None:
    import subprocess
    import sys

    import yaml

    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(hzz_spec()))
    out = subprocess.run([sys.executable, "-m", "hepml.cli", "features", hzz, "--spec", str(spec), "--label=1",
                          "--out", str(tmp_path / "f.root")], capture_output=True, text=True)
    lines = [line for line in out.stderr.splitlines() if line.startswith("hepml ")]
    assert out.returncode == 1 and len(lines) == 1 and "Traceback" not in out.stderr
    assert "no branch 'event'" in lines[0] and "fold_key (event, the default)" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


def test_stack_takes_flat_values_only() -> None:
    import awkward as ak

    from hepml.errors import ExpressionError

    with pytest.raises(ExpressionError, match="stack\\(\\) takes one or more values with one number per event"):
        parse("stack(x, y)").evaluate({"x": ak.Array([[1.0], [2.0, 3.0]]), "y": np.array([1.0, 2.0])})
    assert parse("stack(x, y)").evaluate({"x": np.array([1.0, 2.0]), "y": np.array([3.0, 4.0])}).tolist() == [
        [1.0, 3.0], [2.0, 4.0]]
