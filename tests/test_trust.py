"""Trust, round 3: one fault-injection test per failure a new user found (issue 28, items 1-8).

Each checks the outcome, the one-line message naming the culprit, the exit status, that the inputs
are byte-identical and that nothing half-written is left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml

from hepml.errors import BundleError, ConfigError, LeakError
from hepml.features import FeatureSpec
from hepml.features.files import feature_sources, read_features, write_features
from hepml.scoring import LeakWarning, Scorer
from hepml.tasks.higgs.train import train_kfold

from conftest import REPO, SPEC, copy, hepml, leftovers, one_line_error, rehash, sha256

TINY = {"epochs": 2, "units": 16, "layers": 1}


def hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file below ``folder``: what 'byte-identical inputs' compares."""
    return {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def rewrite(src: Path, dst: Path, change=lambda a: a) -> Path:  # type: ignore[no-untyped-def]
    """``src``'s Events tree rewritten by uproot into ``dst`` (a new file: new UUID, new baskets),
    after ``change`` (arrays -> arrays); collections are written back NanoAOD-style."""
    arrays = change(uproot.open(src)["Events"].arrays())
    out = {name: arrays[name] for name in arrays.fields if "_" not in name and not name.startswith("n")}
    for collection in ("Jet", "Lepton"):
        out[collection] = ak.zip({f.split("_", 1)[1]: arrays[f] for f in arrays.fields
                                  if f.startswith(collection + "_")})
    out.update({n: arrays[n] for n in arrays.fields if n.startswith(("MET_",))})
    with uproot.recreate(dst) as f:
        f.mktree("Events", {k: v.type.content for k, v in out.items()},
                 field_name=lambda outer, inner: f"{outer}_{inner}", counter_name=lambda counted: f"n{counted}")
        f["Events"].extend(out)
    return dst


def snakemake_dry_run(config: Path) -> subprocess.CompletedProcess[str]:
    """``snakemake -n`` of the repository's workflow with ``config`` on top (hepml on the PATH)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", str(config)], cwd=REPO,
                          capture_output=True, text=True, env=env)


def spec_file(folder: Path, **changes: object) -> Path:
    """The demo spec with ``changes`` (None removes a key), written to ``folder/spec.yaml``."""
    config = yaml.safe_load(SPEC.read_text())
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def train_on(spec_path: Path, ntuples: dict[str, Path], folder: Path, **options: object) -> tuple[Path, list[Path]]:
    """Feature files and a quickly trained 3-fold DNN bundle from ``ntuples`` with ``spec_path``."""
    spec = FeatureSpec.from_yaml(spec_path)
    features = []
    for label, process in ((1, "signal"), (0, "background")):
        features.append(folder / f"features_{process}.root")
        write_features(spec, str(ntuples[process]), features[-1], label=label)
    table = read_features(features, spec.groups["all"], spec.event_id, fold_key=spec.fold_key.text)
    bundle = folder / "bundle"
    train_kfold(table, bundle, model="dnn", k=3, seed=5, model_config=TINY, spec_config=spec.config,
                inputs=[str(f) for f in features], training_data=feature_sources(features), **options)
    return bundle, features


# --- 1. --out never deletes ----------------------------------------------------------------------

@pytest.mark.parametrize("verb", ["train", "train-fold", "calibrate"])
@pytest.mark.parametrize("target, fragment", [
    ("keep", "this folder holds the input file"),
    ("results/", "is a folder hepml did not write (2 entries, e.g. notes.txt)"),
    (".", "this folder holds the input file"),
    ("..", "this folder holds the input file"),
])
def test_out_naming_an_existing_folder_is_refused(higgs_features: list[Path], tmp_path: Path, verb: str,
                                                  target: str, fragment: str) -> None:
    work = tmp_path / "work"
    keep = work / "keep"
    keep.mkdir(parents=True)
    inputs = [copy(f, keep / f.name) for f in higgs_features]
    (work / "results").mkdir()
    (work / "results" / "notes.txt").write_text("a physicist's notes")
    (work / "results" / "plots").mkdir()
    before = hashes(tmp_path)
    args = [verb, *map(str, inputs), "--spec", str(SPEC), "--model-config", json.dumps(TINY), "--out", target]
    args += {"train-fold": ["--fold", "0"], "calibrate": ["--folds", "folds/fold0", "folds/fold1", "folds/fold2"]
             }.get(verb, [])
    if verb == "calibrate":
        for j in range(3):
            (work / "folds" / f"fold{j}").mkdir(parents=True)
        before = hashes(tmp_path)
    one_line_error(hepml(*args, cwd=work), f"--out {target}", fragment)
    assert hashes(tmp_path) == before and sorted(leftovers(work)) == sorted(
        ["keep", "results"] + (["folds"] if verb == "calibrate" else []))


def test_out_in_the_working_directory_or_of_another_kind_is_refused(higgs_features: list[Path],
                                                                    tmp_path: Path) -> None:
    from hepml.tasks.higgs.train import train_fold

    inputs = [copy(f, tmp_path / f.name) for f in higgs_features]
    inside = tmp_path / "inside"
    inside.mkdir()
    (inside / "mine.txt").write_text("x")
    base = ["--spec", str(SPEC), "--model-config", json.dumps(TINY)]
    # the working directory itself, with no input in it: refused as the working directory
    one_line_error(hepml("train", *map(str, inputs), *base, "--out", ".", cwd=inside), "--out .",
                   "is the working directory or a parent of it")
    # a previous fold output is no bundle: refused, and kept
    spec = FeatureSpec.from_yaml(SPEC)
    table = read_features(inputs, spec.groups["all"], spec.event_id)
    fold = train_fold(table, tmp_path / "fold0", fold=0, model_config=TINY)
    kept = hashes(fold)
    one_line_error(hepml("train", *map(str, inputs), *base, "--out", str(fold)), "is a hepml fold output, not a bundle")
    assert hashes(fold) == kept
    # its own kind is replaced: the rerun of a job
    train_fold(table, fold, fold=0, model_config=TINY)
    assert (fold / "fold.json").exists() and (inside / "mine.txt").read_text() == "x"
    assert sorted(leftovers(tmp_path)) == sorted(["fold0", "inside", *(f.name for f in inputs)])


def test_calibrate_on_the_parent_of_its_folds_is_refused(higgs_features: list[Path], tmp_path: Path) -> None:
    folds = [tmp_path / "folds" / f"fold{j}" for j in range(3)]
    for fold in folds:
        fold.mkdir(parents=True)
        (fold / "fold.json").write_text("{}")
    before = hashes(tmp_path)
    out = hepml("calibrate", *map(str, higgs_features), "--spec", str(SPEC), "--folds", *map(str, folds),
                "--out", str(tmp_path / "folds"))
    one_line_error(out, "this folder holds the input file", "fold0")
    assert hashes(tmp_path) == before


# --- 2. edited bundles are refused -----------------------------------------------------------------

def _copy_bundle(bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle, tmp_path / "bundle"))


def _edit_info(bundle: Path, change) -> None:  # type: ignore[no-untyped-def]
    info = json.loads((bundle / "bundle.json").read_text())
    change(info)
    (bundle / "bundle.json").write_text(json.dumps(info, indent=2))


def _swap(a: Path, b: Path) -> None:
    a.rename(a.with_name("swap"))
    b.rename(a)
    a.with_name("swap").rename(b)


def _link(path: Path, to: str) -> None:
    path.unlink()
    path.symlink_to(to)


@pytest.mark.parametrize("edit, fragment", [
    (lambda b: _edit_info(b, lambda i: i["columns"].__setitem__(slice(0, 2), i["columns"][1::-1])),
     "bundle.json: key 'columns' was changed after the bundle was written"),
    (lambda b: _edit_info(b, lambda i: i.update(k=2, models=i["models"][:2])), "key 'k' was changed"),
    (lambda b: _edit_info(b, lambda i: i.update(seed=i["seed"] + 1)), "key 'seed' was changed"),
    (lambda b: _swap(b / "fold0.keras", b / "fold1.keras"), "fold0.keras: its content differs from the sha256"),
    (lambda b: _link(b / "fold1.keras", "fold0.keras"), "fold1.keras: its content differs"),
    (lambda b: (b / "feature_spec.yaml").write_text((b / "feature_spec.yaml").read_text().replace(
        "MET_pt", "MET_phi", 1)), "feature_spec.yaml: its content differs"),
    (lambda b: (b / "calibration.json").write_text(json.dumps({"method": "platt", "a": 1e308, "b": 0.0})),
     "calibration.json: its content differs"),
])
def test_edited_bundles_are_refused_naming_the_file_or_key(dnn_bundle: Path, higgs_files: dict[str, Path],
                                                           tmp_path: Path, edit, fragment: str) -> None:  # type: ignore[no-untyped-def]
    bundle = _copy_bundle(dnn_bundle, tmp_path)
    edit(bundle)
    out_dir = tmp_path / "scores"
    out = hepml("score", str(bundle), f"{higgs_files['signal']}:Events", "--out", str(out_dir / "s.root"))
    one_line_error(out, fragment, "bundle")
    assert not out_dir.exists() or leftovers(out_dir) == []


def test_bundles_without_an_integrity_record_are_refused(dnn_bundle: Path, tmp_path: Path) -> None:
    bundle = _copy_bundle(dnn_bundle, tmp_path)
    _edit_info(bundle, lambda i: i.pop("integrity"))
    with pytest.raises(BundleError, match="no integrity record .* retrain the bundle"):
        Scorer(bundle)


def test_an_onnx_export_of_another_bundle_version_is_refused(dnn_bundle: Path, tmp_path: Path) -> None:
    pytest.importorskip("tf2onnx")
    from hepml.tasks.higgs.onnx import export_onnx

    bundle = _copy_bundle(dnn_bundle, tmp_path)
    export_onnx(bundle, check_events=50)
    Scorer(bundle, "onnxruntime")  # the fresh export verifies
    shutil.copyfile(bundle / "onnx" / "fold0.onnx", bundle / "onnx" / "fold1.onnx")
    with pytest.raises(BundleError, match="fold1.onnx: its content differs from the sha256 model.json recorded"):
        Scorer(bundle, "onnxruntime")


# --- 3. sample sheets -------------------------------------------------------------------------------

def _sheet(folder: Path, rows: list[str], header: str = "sample\tfiles\ttree\tlabel\tweight") -> Path:
    path = folder / "samples.tsv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


@pytest.mark.parametrize("rows, header, fragment", [
    (["sig\t{s}\tEvents\t1\t1", "sig\t{b}\tEvents\t0\t1"], None, "row 3, column 'sample': 'sig' is listed twice"),
    (["sig\t{s},{s}\tEvents\t1\t1"], None, "row 2, column 'files'"),
    (["sig\t{s}\tEvents\t1\t1", "bkg\t{s}\tEvents\t0\t1"], None, "is also in sample 'sig' (row 2)"),
    (["../../../escape\t{s}\tEvents\t1\t1"], None, "row 2, column 'sample': '../../../escape' is not a plain name"),
    (["sig\t{s}\tEvents\tsignal\t1"], None, "row 2, column 'label': 'signal' is not a class label"),
    (["sig\t{s}\tEvents\t2\t1"], None, "row 2, column 'label': '2'"),
    (["sig\t{s}\tEvents\t1"], "sample\tfiles\ttree\tlabel", None),
    (["sig\t{s}\tEvents"], "sample\tfiles\ttree", "row 1: no column 'label'"),
    (["sig\t{s}\tEvents\t1\t1\tx"], "sample\tfiles\ttree\tlabel\tweight\tlable", "unknown column 'lable'"),
    (["sig\t{s}\tEvents\t1\tgenWeight *"], None, "row 2, column 'weight'"),
])
def test_sample_sheets_are_checked(higgs_files: dict[str, Path], tmp_path: Path, rows: list[str],
                                   header: str | None, fragment: str | None) -> None:
    sheet = _sheet(tmp_path, [r.format(s=higgs_files["signal"], b=higgs_files["background"]) for r in rows],
                   header or "sample\tfiles\ttree\tlabel\tweight")
    out = hepml("samples", str(sheet))
    if fragment is None:
        assert out.returncode == 0 and json.loads(out.stdout)["sig"]["weight"] == "1"
        return
    one_line_error(out, str(sheet), fragment)


def test_a_file_shared_by_declaration_is_accepted(higgs_files: dict[str, Path], tmp_path: Path) -> None:
    s = higgs_files["signal"]
    sheet = _sheet(tmp_path, [f"a\t{s}\t1\tyes", f"b\t{s}\t0\tyes"], "sample\tfiles\tlabel\tshared")
    out = hepml("samples", str(sheet))
    assert out.returncode == 0 and json.loads(out.stdout)["b"]["shared"] is True


def test_the_workflow_refuses_a_bad_sheet_before_any_job(higgs_files: dict[str, Path], tmp_path: Path) -> None:
    sheet = _sheet(tmp_path, [f"../../../escape\t{higgs_files['signal']}\tEvents\t1\t1",
                              f"bkg\t{higgs_files['background']}\tEvents\t0\t1"])
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"tasks": ["higgs"], "higgs": {"samples": str(sheet), "reference": "dnn_all"}}))
    out = snakemake_dry_run(config)
    assert out.returncode != 0 and "'../../../escape' is not a plain name" in out.stdout + out.stderr
    assert not (REPO / "results" / "escape").exists()


def test_an_input_given_twice_is_refused(higgs_files: dict[str, Path], tmp_path: Path) -> None:
    signal = copy(higgs_files["signal"], tmp_path / "s.root")
    (tmp_path / "alias.root").symlink_to("s.root")
    for twice in ([str(signal), str(signal)], [str(signal), str(tmp_path / "alias.root")],
                  [str(signal), str(tmp_path / "*.root")]):
        out = hepml("features", *twice, "--spec", str(SPEC), "--label", "1", "--out", str(tmp_path / "f.root"))
        one_line_error(out, "given twice", "its events would count twice")
    assert sorted(leftovers(tmp_path)) == ["alias.root", "s.root"]


# --- 4. duplicate keys and settings ranges ---------------------------------------------------------

def test_a_key_written_twice_in_a_spec_is_refused(zmumu: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("tree: events\nfold_key: Event\nfeatures:\n  met: px1\n  met: py1\n")
    out = hepml("features", zmumu, "--spec", str(spec), "--out", str(tmp_path / "f.root"))
    one_line_error(out, "spec.yaml", "line 5", "key 'met' is written twice (lines 4 and 5)")
    assert leftovers(tmp_path) == ["spec.yaml"]


def test_a_misspelt_setting_fails_the_dry_run(tmp_path: Path) -> None:
    """The workflow schema's settings blocks are built from the settings classes (issue 29)."""
    config = tmp_path / "config.yaml"
    config.write_text("higgs:\n  dnn: {dropuot: 0.2}\n")
    out = snakemake_dry_run(config)
    assert out.returncode != 0 and "'dropuot' was unexpected" in out.stdout + out.stderr
    config.write_text("higgs:\n  dnn: {dropout: 1.5}\n")
    out = snakemake_dry_run(config)
    assert out.returncode != 0 and "1.5 is greater than or equal to the maximum of 1" in out.stdout + out.stderr


def test_a_key_written_twice_in_the_workflow_config_fails_the_dry_run(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("higgs:\n  kfold: 3\n  kfold: 5\n")
    out = snakemake_dry_run(config)
    assert out.returncode != 0 and "key 'kfold' is written twice (lines 2 and 3)" in out.stdout + out.stderr


@pytest.mark.parametrize("settings, fragment", [
    ({"epochs": 0}, "dnn.epochs: 0 is out of range; it must be >= 1"),
    ({"epochs": -1}, "dnn.epochs: -1 is out of range"),
    ({"dropout": -3}, "dnn.dropout: -3 is out of range; it must be >= 0"),
    ({"dropout": 1.0}, "dnn.dropout: 1.0 is out of range; it must be < 1"),
    ({"balance_classes": "false"}, "dnn.balance_classes: 'false' is not true or false (e.g. true)"),
    ({"units": 12.7}, "dnn.units: 12.7 is not a whole number (e.g. 128)"),
    ({"dropuot": 0.2}, "unknown key 'dropuot' (closest: dropout"),
])
def test_settings_out_of_range_are_refused(settings: dict, fragment: str) -> None:
    from hepml.models.dense import DenseConfig

    with pytest.raises(ConfigError) as err:
        DenseConfig.from_dict(settings)
    assert fragment in str(err.value)


def test_settings_are_checked_before_training(higgs_features: list[Path], tmp_path: Path) -> None:
    out = hepml("train-fold", *map(str, higgs_features), "--spec", str(SPEC), "--fold", "0",
                "--model-config", json.dumps({"epochs": 0}), "--out", str(tmp_path / "fold0"))
    one_line_error(out, "dnn.epochs: 0 is out of range")
    assert leftovers(tmp_path) == []


# --- 5. the expression budget ----------------------------------------------------------------------

def test_combinations_are_counted_before_they_are_built(zmumu: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"tree": "events", "fold_key": "Event", "features": {
        "huge": "max(pairs(pairs(pairs(stack(px1, py1, pz1, E1, px2, py2, pz2, E2, Q1, Q2)))))"}}))
    out = hepml("features", zmumu, "--spec", str(spec), "--out", str(tmp_path / "f.root"))
    one_line_error(out, "features.huge", "would build", "at most 20,000,000 per chunk", "--step-size")
    assert leftovers(tmp_path) == ["spec.yaml"]


# --- 6. nothing fails after training because of events failing the cut -----------------------------

def _without_some_leptons(arrays: ak.Array) -> ak.Array:
    """Every fifth event loses its lepton: the README's fold key cannot be computed for it."""
    drop = np.asarray(arrays["event"] % 5 == 0)
    counts = np.where(drop, 0, ak.to_numpy(ak.num(arrays["Lepton_pt"])))
    for name in [f for f in arrays.fields if f.startswith("Lepton_")]:
        arrays[name] = ak.unflatten(ak.to_numpy(ak.flatten(arrays[name][~drop])), counts)
    arrays["nLepton"] = counts
    return arrays


@pytest.fixture(scope="module")
def readme_key(higgs_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
               ) -> tuple[Path, dict[str, Path]]:
    """A bundle trained with the README's fold key on ntuples where every fifth event has no lepton
    (and fails the cut): the bundle and its ntuples."""
    folder = tmp_path_factory.mktemp("readme_key")
    ntuples = {p: rewrite(f, folder / f"{p}.root", _without_some_leptons) for p, f in higgs_files.items()}
    spec = spec_file(folder, cut="num(Jet_pt) >= 4 and num(Lepton_pt) >= 1",
                     fold_key="hash(MET_pt, MET_phi, Lepton_pt[:, 0])", event_id=None)
    return train_on(spec, ntuples, folder)[0], ntuples


def test_the_readme_fold_key_on_events_failing_the_cut(readme_key: tuple[Path, dict[str, Path]],
                                                       tmp_path: Path) -> None:
    bundle, ntuples = readme_key
    out = hepml("score", str(bundle), f"{ntuples['signal']}:Events", "--out", str(tmp_path / "scores.root"))
    assert out.returncode == 0, out.stderr
    tree = uproot.open(tmp_path / "scores.root")["scores"].arrays(library="np")
    no_lepton = uproot.open(ntuples["signal"])["Events"]["nLepton"].array(library="np") == 0
    assert no_lepton.sum() > 100 and not tree["pass_cut"][no_lepton].any()
    assert np.isnan(tree["score"][no_lepton]).all() and np.isfinite(tree["score"][tree["pass_cut"]]).all()


def test_a_fold_key_failing_on_a_selected_event_fails_at_feature_building(higgs_files: dict[str, Path],
                                                                          tmp_path: Path) -> None:
    spec = spec_file(tmp_path, fold_key="hash(Lepton_pt[:, 1])", event_id=None)
    out = hepml("features", f"{higgs_files['signal']}:Events", "--spec", str(spec), "--label", "1",
                "--out", str(tmp_path / "f.root"))
    one_line_error(out, "fold_key", "hash(Lepton_pt[:, 1])")
    assert leftovers(tmp_path) == ["spec.yaml"]


# --- 7. leaks caught by content --------------------------------------------------------------------

def test_a_rewritten_training_file_scored_as_independent_is_refused(dnn_bundle: Path, higgs_files: dict[str, Path],
                                                                    tmp_path: Path) -> None:
    copy_ = rewrite(higgs_files["signal"], tmp_path / "copy.root")
    before = sha256(copy_)
    out = hepml("score", str(dnn_bundle), f"{copy_}:Events", "--independent", "--out", str(tmp_path / "s.root"))
    one_line_error(out, "copy.root:Events", "events this bundle trained on", "declared independent")
    assert sha256(copy_) == before and leftovers(tmp_path) == ["copy.root"]
    report = hepml("score", str(dnn_bundle), f"{copy_}:Events", "--independent", "--leaks", "report",
                   "--out", str(tmp_path / "s.root"))
    assert report.returncode == 0 and "LeakWarning" in report.stderr and (tmp_path / "s.root").exists()


def test_the_python_api_independent_flag_is_checked(dnn_bundle: Path, higgs_files: dict[str, Path],
                                                    tmp_path: Path) -> None:
    scorer = Scorer.load(dnn_bundle)
    events = uproot.open(higgs_files["background"])["Events"].arrays(scorer.branches)
    with pytest.raises(LeakError, match="trained on .* declared independent"):
        scorer(events, independent=True)
    with pytest.warns(LeakWarning):
        scores = scorer(events, independent=True, leaks="report")
    assert np.isfinite(scores["score"]).all()
    scored = scorer(events)  # keyed by event number: each event by the network that never saw it
    assert np.isfinite(scored["score"]).all()


def test_unseen_events_pass_the_leak_check(dnn_bundle: Path, tmp_path: Path) -> None:
    from hepml.simulate.higgs import write_ntuple

    fresh = tmp_path / "unseen.root"
    write_ntuple(fresh, "background", 6000, seed=2024, first_event=5_000_000_000)
    scorer = Scorer.load(dnn_bundle)
    events = uproot.open(fresh)["Events"].arrays(scorer.branches)
    X = scorer.features(events)
    assert scorer.fingerprint is not None and scorer.fingerprint.lookup(X)[0].sum() == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert np.isfinite(scorer(events, independent=True)["score"]).all()
    assert not [w for w in caught if issubclass(w.category, LeakWarning)]


def test_a_one_ulp_change_of_a_key_input_is_caught(readme_key: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    bundle, ntuples = readme_key

    def one_ulp(arrays: ak.Array) -> ak.Array:
        met = ak.to_numpy(arrays["MET_pt"])
        arrays["MET_pt"] = np.nextafter(met, np.inf).astype(met.dtype)
        return arrays

    changed = rewrite(ntuples["signal"], tmp_path / "changed.root", one_ulp)
    out = hepml("score", str(bundle), f"{changed}:Events", "--out", str(tmp_path / "s.root"))
    one_line_error(out, "changed.root:Events", "their fold key no longer gives the fold they had in training")
    assert leftovers(tmp_path) == ["changed.root"]  # the unchanged file scores: the README test


def test_entry_keys_of_a_renamed_training_file_are_caught(higgs_files: dict[str, Path], tmp_path: Path) -> None:
    ntuples = {p: copy(f, tmp_path / f"{p}.root") for p, f in higgs_files.items()}
    spec = spec_file(tmp_path, fold_key="entry", event_id=None)
    bundle, _ = train_on(spec, ntuples, tmp_path)
    renamed = tmp_path / "renamed.root"
    os.rename(ntuples["signal"], renamed)
    out = hepml("score", str(bundle), f"{renamed}:Events", "--out", str(tmp_path / "s.root"))
    one_line_error(out, "renamed.root:Events", "their fold key no longer gives the fold")


# --- 8. messages that name the real culprit -----------------------------------------------------------

def test_degenerate_fold_keys_and_too_many_folds_say_so(higgs_files: dict[str, Path], higgs_features: list[Path],
                                                        tmp_path: Path) -> None:
    spec = spec_file(tmp_path, fold_key="hash(MET_pt * 0)", event_id=None)
    features = []
    for label, process in ((1, "signal"), (0, "background")):
        features.append(str(tmp_path / f"{process}.root"))
        assert hepml("features", f"{higgs_files[process]}:Events", "--spec", str(spec), "--label", str(label),
                     "--out", features[-1]).returncode == 0
    one_line_error(hepml("train", *features, "--spec", str(spec), "--out", str(tmp_path / "b")),
                   "takes only 1 distinct value(s)", "use a key that differs from event to event")
    one_line_error(hepml("train", *map(str, higgs_features), "--spec", str(SPEC), "--k", "100000",
                         "--out", str(tmp_path / "b")), "k = 100000 folds for", "choose a smaller k")
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("seed", ["-1", str(2**64)])
def test_seeds_out_of_range_are_named(higgs_features: list[Path], tmp_path: Path, seed: str) -> None:
    out = hepml("train", *map(str, higgs_features), "--spec", str(SPEC), "--seed", seed, "--out", str(tmp_path / "b"))
    assert out.returncode == 2 and "argument --seed" in out.stderr and "out of range" in out.stderr
    assert "OverflowError" not in out.stderr and leftovers(tmp_path) == []


def test_a_deeply_nested_bundle_description_is_called_corrupt(dnn_bundle: Path, tmp_path: Path) -> None:
    bundle = _copy_bundle(dnn_bundle, tmp_path)
    (bundle / "bundle.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BundleError, match="corrupt bundle description .nested too deeply"):
        Scorer(bundle)


def test_a_refused_connection_is_not_called_corrupt() -> None:
    out = hepml("inspect", "https://127.0.0.1:9/data.root")
    one_line_error(out, "cannot reach the server", "check the address")
    assert "corrupt" not in out.stderr


def test_inspect_into_a_closed_pipe_stops_quietly(nanoaod: str) -> None:
    pipe = subprocess.run(f"{sys.executable} -m hepml.cli inspect {nanoaod} | head -n 2", shell=True,
                          capture_output=True, text=True)
    assert pipe.returncode == 0 and len(pipe.stdout.splitlines()) == 2
    assert "BrokenPipe" not in pipe.stderr and "Traceback" not in pipe.stderr


def test_an_empty_tree_name_is_refused(dnn_bundle: Path, higgs_files: dict[str, Path], tmp_path: Path) -> None:
    out = hepml("score", str(dnn_bundle), f"{higgs_files['signal']}:Events", "--tree", "",
                "--out", str(tmp_path / "s.root"))
    one_line_error(out, "tree name '' is not a name ROOT can look up")
    assert leftovers(tmp_path) == []


def test_in_place_respects_a_read_only_file(tmp_path: Path, zmumu: str) -> None:
    from hepml.errors import HepmlError
    from hepml.io import Source, add_branches_in_place

    target = copy(zmumu, tmp_path / "data.root")
    target.chmod(0o444)
    before = sha256(target)
    with pytest.raises(HepmlError, match=r"read-only \(mode -r--r--r--\).*chmod u\+w"):
        add_branches_in_place(Source(str(target), "events"), {"s": np.zeros(2304, np.float32)})
    assert sha256(target) == before and (target.stat().st_mode & 0o777) == 0o444
    assert leftovers(tmp_path) == ["data.root"]


def test_spec_errors_still_refuse_before_reading(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        FeatureSpec.from_yaml(tmp_path / "missing.yaml")


@pytest.mark.parametrize("change, message", [
    (lambda i: i.update(kind="baseline", model="bdt", models=[]),
     "this bdt bundle holds no fold models .* retrain it to score"),
    (lambda i: i.update(kind="baseline", model="bdt"), r"fold0.keras: a bdt fold model is a \.skops file"),
    (lambda i: i.update(kind="baseline", model="svm"), "key 'model': unknown model 'svm'.* this hepml cannot score it"),
])
def test_bundles_whose_fold_models_cannot_score_say_why(dnn_bundle: Path, tmp_path: Path, change,  # type: ignore[no-untyped-def]
                                                        message: str) -> None:
    """A baseline bundle of an older hepml (no fold models), fold files of another model and a model
    this hepml does not know, each with a consistent integrity record: refused by name, not loaded."""
    bundle = _copy_bundle(dnn_bundle, tmp_path)
    _edit_info(bundle, change)
    rehash(bundle)
    with pytest.raises(BundleError, match=message):
        Scorer(bundle)
