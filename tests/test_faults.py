"""Fault injection: bad inputs, damaged bundles, hostile strings and killed jobs.

Each case checks three things: the outcome (refused, or done right), the message (one line naming
the file, key or branch), and that nothing partial was left behind or changed in the inputs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml

from hepml.bundle import read_info
from hepml.errors import BundleError, ConfigError, ExpressionError, HepmlError
from hepml.features import FeatureSpec
from hepml.io import Source, add_branches_in_place
from hepml.io.atomic import atomic_path, temporary_sibling
from hepml.scoring import Scorer

from conftest import SPEC, copy, hepml, leftovers, one_line_error, rehash, sha256

# --- 1. in-place write-back never corrupts the input ---------------------------------------------

def test_in_place_refuses_a_tree_it_would_damage(dnn_bundle: Path, tmp_path: Path) -> None:
    """uproot's add_branches drops the shared counter of Jet_*: the verification catches it."""
    from hepml.simulate.higgs import write_ntuple

    path = tmp_path / "single_basket.root"
    write_ntuple(path, "signal", 300, seed=3)  # one basket per branch: the case uproot accepts
    before = sha256(path)
    out = hepml("score", str(dnn_bundle), f"{path}:Events", "--in-place")
    one_line_error(out, "single_basket.root:Events", "would damage branch 'Jet_", "leave out --in-place")
    assert sha256(path) == before and leftovers(tmp_path) == ["single_basket.root"]


def test_in_place_refuses_root_written_jagged_trees(tmp_path: Path, nanoaod: str) -> None:
    path = copy(nanoaod, tmp_path / "nano.root")
    before = sha256(path)
    with pytest.raises(HepmlError, match="uproot cannot add branches to this tree.*input is unchanged"):
        add_branches_in_place(Source(str(path), "Events"), {"s": np.zeros(200, np.float32)})
    assert sha256(path) == before and leftovers(tmp_path) == ["nano.root"]


def test_in_place_on_a_flat_tree_keeps_every_value_mode_and_link(tmp_path: Path, zmumu: str) -> None:
    target = copy(zmumu, tmp_path / "data.root")
    target.chmod(0o640)
    link = tmp_path / "link.root"
    link.symlink_to(target.name)
    n = 2304
    scores = np.linspace(0, 1, n).astype(np.float32)
    add_branches_in_place(Source(str(link), "events"), {"hepml_score": scores})
    assert link.is_symlink() and os.readlink(link) == "data.root"  # the link still points where it did
    assert (target.stat().st_mode & 0o777) == 0o640
    tree, original = uproot.open(target)["events"], uproot.open(zmumu)["events"]
    for branch in original.keys():
        np.testing.assert_array_equal(tree[branch].array(library="np"), original[branch].array(library="np"))
    np.testing.assert_array_equal(tree["hepml_score"].array(library="np"), scores)
    assert sorted(leftovers(tmp_path)) == ["data.root", "link.root"]
    ROOT = pytest.importorskip("ROOT")
    f = ROOT.TFile.Open(str(target))
    assert f.Get("events").Draw("hepml_score", "", "goff") == n
    f.Close()


def test_in_place_on_an_empty_tree_adds_typed_branches(tmp_path: Path) -> None:
    path = tmp_path / "empty.root"
    with uproot.recreate(path) as f:
        f.mktree("Events", {"x": np.float64})
    add_branches_in_place(Source(str(path), "Events"), {"hepml_score": np.zeros(0, np.float32)})
    tree = uproot.open(path)["Events"]
    assert tree.num_entries == 0 and tree["hepml_score"].typename == "float"
    with pytest.raises(HepmlError, match="no branches to add"):
        add_branches_in_place(Source(str(path), "Events"), {})


def test_in_place_and_out_together_are_refused(dnn_bundle: Path, tmp_path: Path, zmumu: str) -> None:
    path = copy(zmumu, tmp_path / "data.root")
    out = hepml("score", str(dnn_bundle), f"{path}:events", "--in-place", "--out", str(tmp_path / "s.root"))
    one_line_error(out, "--in-place", "--out")
    assert leftovers(tmp_path) == ["data.root"]


# --- 2. an output never overwrites an input ------------------------------------------------------

def test_outputs_never_overwrite_inputs(dnn_bundle: Path, higgs_files: dict[str, Path], tmp_path: Path) -> None:
    signal_file = copy(higgs_files["signal"], tmp_path / "signal.root")
    other = copy(higgs_files["background"], tmp_path / "background.root")
    (tmp_path / "alias.root").symlink_to(signal_file)
    before = sha256(signal_file)
    cases = [
        (["score", str(dnn_bundle), f"{signal_file}:Events", "--out", str(signal_file)], "this is the input file"),
        (["score", str(dnn_bundle), f"{signal_file}:Events", "--out", str(tmp_path / "alias.root")], "input file"),
        (["score", str(dnn_bundle), str(signal_file), str(other), "--out", str(tmp_path / "s.root"),
          str(tmp_path / "." / "s.root")], "also the output for another input"),
        (["features", str(signal_file), "--spec", str(SPEC), "--label", "1", "--out", str(signal_file)],
         "this is the input file"),
    ]
    for args, fragment in cases:
        one_line_error(hepml(*args), "--out", fragment)
    assert sha256(signal_file) == before
    assert sorted(leftovers(tmp_path)) == ["alias.root", "background.root", "signal.root"]


# --- 3. a bundle is validated before it scores ---------------------------------------------------

def _tampered(bundle: Path, tmp_path: Path, **changes: object) -> Path:
    """A copy of ``bundle`` with ``changes`` in bundle.json and the integrity record recomputed to
    match, as a buggy writer would leave it: the checks behind the integrity record must hold too."""
    copy_ = tmp_path / "bundle"
    shutil.copytree(bundle, copy_)
    info = json.loads((copy_ / "bundle.json").read_text())
    info.update(changes)
    (copy_ / "bundle.json").write_text(json.dumps(info))
    return rehash(copy_)


@pytest.mark.parametrize("changes, fragments", [
    ({"k": 4}, ["bundle.json: key 'k' is 4 but key 'models' lists 3"]),
    ({"models": ["fold0.keras", "fold1.keras"]}, ["key 'k' is 3 but key 'models' lists 2"]),
    ({"models": ["../fold0.keras", "fold1.keras", "fold2.keras"]}, ["bundle.json: key 'models.0'"]),
    ({"columns": ["lepton_pt", "not_a_feature"]}, ["key 'columns' names 'not_a_feature'"]),
    ({"format": 2}, ["key 'format' is 2"]),
    ({"seed": "seven"}, ["bundle.json: key 'seed'"]),
    ({"calibration": "platt"}, ["calibration.json: key 'method' is 'isotonic'"]),
])
def test_damaged_bundle_descriptions_are_refused(dnn_bundle: Path, tmp_path: Path, changes: dict,
                                                 fragments: list[str]) -> None:
    bundle = _tampered(dnn_bundle, tmp_path, **changes)
    with pytest.raises(BundleError) as err:
        Scorer(bundle)
    for fragment in fragments:
        assert fragment in str(err.value)
    assert str(bundle) in str(err.value)


def test_a_network_outside_the_bundle_is_refused(dnn_bundle: Path, tmp_path: Path) -> None:
    bundle = _tampered(dnn_bundle, tmp_path)
    outside = tmp_path / "elsewhere.keras"
    shutil.move(bundle / "fold0.keras", outside)
    (bundle / "fold0.keras").symlink_to(outside)
    with pytest.raises(BundleError, match="key 'models.0' .*points outside the bundle folder"):
        read_info(bundle)


@pytest.mark.parametrize("calibration, fragment", [
    ({"method": "temperature", "temperature": -1.0}, "key 'temperature' is -1.0"),
    ({"method": "platt", "a": float("nan"), "b": 0.0}, "key 'a' is nan"),
    ({"method": "isotonic", "x": [0.0, 0.5, 0.2], "y": [0.1, 0.2, 0.3]}, "non-decreasing"),
    ({"method": "isotonic", "x": [0.0, 1.0], "y": [0.1, 1.5]}, "outside [0, 1]"),
    ({"method": "isotonic", "x": [0.0, 1.0], "y": [0.1]}, "'x' and 'y' hold 2 and 1 knots"),
    ({"method": "magic"}, "unknown calibration method 'magic'"),
])
def test_damaged_calibrations_are_refused(dnn_bundle: Path, tmp_path: Path, calibration: dict, fragment: str) -> None:
    bundle = _tampered(dnn_bundle, tmp_path, calibration=calibration["method"]
                       if calibration["method"] != "magic" else "isotonic")
    (bundle / "calibration.json").write_text(json.dumps(calibration))
    rehash(bundle)
    with pytest.raises(BundleError) as err:
        Scorer(bundle)
    assert "calibration.json" in str(err.value) and fragment in str(err.value)


def test_corrupt_network_says_corrupt_and_scores_nothing(dnn_bundle: Path, higgs_files: dict[str, Path],
                                                         tmp_path: Path) -> None:
    bundle = _tampered(dnn_bundle, tmp_path)
    (bundle / "fold1.keras").write_bytes(b"not a zip file" * 100)
    rehash(bundle)
    out_dir = tmp_path / "scores"
    out = hepml("score", str(bundle), f"{higgs_files['signal']}:Events", "--out", str(out_dir / "s.root"))
    one_line_error(out, "fold1.keras: corrupt Keras model")
    assert not out_dir.exists() or leftovers(out_dir) == []


def test_bundle_schema_ships_with_the_package() -> None:
    from importlib import resources

    from hepml.bundle import SCHEMA

    schema = json.loads(resources.files("hepml").joinpath(SCHEMA).read_text())
    assert schema["properties"]["format"] == {"const": 1, "description": schema["properties"]["format"]["description"]}


# --- 5. the expression language is bounded ------------------------------------------------------

def test_huge_powers_do_not_hang(zmumu: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("tree: events\nfold_key: Event\nfeatures:\n  big: M * 10**10**10\n")
    start = time.perf_counter()
    out = hepml("features", zmumu, "--spec", str(spec), "--out", str(tmp_path / "out" / "f.root"))
    assert time.perf_counter() - start < 60
    one_line_error(out, "feature 'big' is inf at entry 0")
    assert not (tmp_path / "out").exists() or leftovers(tmp_path / "out") == []


@pytest.mark.parametrize("expression, fragment", [
    ("+".join(["M"] * 3000), "at most 5000"),
    ("+".join(["M"] * 500), "nested 502 levels deep"),
    ("-" * 300 + "M", "levels deep"),
    ("sqrt(" * 250 + "M" + ")" * 250, "cannot parse"),
    ("first(M, 10**9)", "first"),
])
def test_deep_or_long_expressions_name_the_key(zmumu: str, tmp_path: Path, expression: str, fragment: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"tree": "events", "fold_key": "Event", "features": {"deep": expression}}))
    out = hepml("features", zmumu, "--spec", str(spec), "--out", str(tmp_path / "f.root"))
    line = one_line_error(out, "features.deep", fragment)
    assert "RecursionError" not in line and len(line) < 600
    assert leftovers(tmp_path) == ["spec.yaml"]


def test_long_definition_chains_are_refused() -> None:
    defines = {f"a{i}": f"a{i - 1} + 1" if i else "x" for i in range(1000)}
    for order in (1, -1):
        with pytest.raises(ConfigError, match="definitions nested more than 32 deep"):
            FeatureSpec({"define": dict(list(defines.items())[::order]), "features": {"f": "a999"}})


def test_padding_is_bounded_by_the_data() -> None:
    from hepml.expr import Expression

    arrays = ak.Array({"j": [[1.0, 2.0], [3.0], []]})
    assert Expression("j[:, 1000000000]").evaluate(arrays).tolist() == [None, None, None]
    with pytest.raises(ExpressionError, match="first.*1 to 1000"):
        Expression("first(j, 10**9)").evaluate(arrays)


# --- 6. error messages are exact ----------------------------------------------------------------

def _flat_file(path: Path, n: int = 3000, bad: int | None = None, bad_weight: int | None = None) -> Path:
    """A file not shaped like our generator's: no event ids, flat per-object names, huge weight ratios."""
    rng = np.random.default_rng(5)
    jet1 = rng.exponential(50, n) + 20
    if bad is not None:
        jet1[bad] = np.nan
    weight = np.where(rng.random(n) < 0.5, 2000.0, 1.0) * rng.choice([-1.0, 1.0], n, p=[0.05, 0.95])
    if bad_weight is not None:
        weight[bad_weight] = np.inf
    with uproot.recreate(path) as f:
        f.mktree("tree", {"jet1_pt": np.float64, "jet2_pt": np.float64, "xsec_weight": np.float64})
        f["tree"].extend({"jet1_pt": jet1, "jet2_pt": rng.exponential(30, n), "xsec_weight": weight})
    return path


def test_non_finite_feature_names_the_entry_in_the_file(tmp_path: Path) -> None:
    data = _flat_file(tmp_path / "flat.root", bad=1234)
    spec = tmp_path / "spec.yaml"
    spec.write_text("tree: tree\nfold_key: entry\ncut: jet2_pt > 10\nweight: xsec_weight\n"
                    "features:\n  ht: jet1_pt + jet2_pt\n")
    passing = uproot.open(data)["tree"]["jet2_pt"].array(library="np") > 10
    assert passing[1234] and not passing[:1234].all()  # the cut removes events before the bad one
    out = hepml("features", str(data), "--spec", str(spec), "--step-size", "500", "--out", str(tmp_path / "f.root"))
    one_line_error(out, "flat.root:tree", "feature 'ht' is nan at entry 1234")
    assert sorted(leftovers(tmp_path)) == ["flat.root", "spec.yaml"]


def test_non_finite_weights_are_refused(tmp_path: Path) -> None:
    data = _flat_file(tmp_path / "flat.root", bad_weight=42)
    spec = tmp_path / "spec.yaml"
    spec.write_text("tree: tree\nfold_key: entry\nnan_policy: replace\nweight: xsec_weight\n"
                    "features:\n  ht: jet1_pt + jet2_pt\n")
    out = hepml("features", str(data), "--spec", str(spec), "--out", str(tmp_path / "f.root"))
    one_line_error(out, "weight 'xsec_weight' is inf at entry 42")
    assert sorted(leftovers(tmp_path)) == ["flat.root", "spec.yaml"]


def test_step_size_in_entries(tmp_path: Path) -> None:
    data = _flat_file(tmp_path / "flat.root")
    spec = tmp_path / "spec.yaml"
    spec.write_text("tree: tree\nfold_key: entry\nweight: xsec_weight\nfeatures:\n  ht: jet1_pt + jet2_pt\n")
    out = hepml("features", str(data), "--spec", str(spec), "--step-size", "1000", "--out", str(tmp_path / "f.root"))
    assert out.returncode == 0, out.stderr
    weights = uproot.open(tmp_path / "f.root")["features"]["weight"].array(library="np")
    np.testing.assert_array_equal(weights, uproot.open(data)["tree"]["xsec_weight"].array(library="np"))
    bad = hepml("features", str(data), "--spec", str(spec), "--step-size", "lots", "--out", str(tmp_path / "g.root"))
    one_line_error(bad, "step_size 'lots'", "100 MB")


def test_directory_and_unreadable_paths_say_so(tmp_path: Path, zmumu: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ntuples").mkdir()
    one_line_error(hepml("inspect", str(tmp_path / "ntuples")), "is a directory, not a ROOT file")
    from hepml.errors import CorruptFileError
    from hepml.io import read

    def denied(path: str) -> None:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(read.uproot, "open", denied)
    with pytest.raises(CorruptFileError, match="permission denied; make the file readable"):
        read.open_file(Source(zmumu))


def test_inspect_warns_about_unreadable_baskets(tmp_path: Path, hzz: str) -> None:
    seek = int(uproot.open(hzz)["events"]["Muon_Px"].member("fBasketSeek")[0])
    data = bytearray(Path(hzz).read_bytes())
    data[seek:seek + 64] = b"\0" * 64
    bad = tmp_path / "damaged.root"
    bad.write_bytes(bytes(data))
    out = hepml("inspect", "--trees-only", str(bad))
    assert out.returncode == 3 and "events (TTree): 2421 entries" in out.stdout
    assert "damaged.root:events: 1 of" in out.stderr and "branch 'Muon_Px'" in out.stderr
    good = hepml("inspect", "--trees-only", hzz)
    assert good.returncode == 0 and "warning" not in good.stderr
    assert "note: checked that every basket lies inside the file" in good.stderr and "--deep" in good.stderr
    payload = bytearray(Path(hzz).read_bytes())
    payload[seek + 200:seek + 3000] = b"\0" * 2800  # the header is intact: only decompressing finds it
    (tmp_path / "payload.root").write_bytes(bytes(payload))
    deep = hepml("inspect", "--trees-only", "--deep", str(tmp_path / "payload.root"))
    assert deep.returncode == 3 and "branch 'Muon_Px'" in deep.stderr


@pytest.mark.parametrize("features, fragment", [
    ({"jets": {"expr": "x", "frist": 2}}, "features.jets: unknown key 'frist' (closest: first"),
    ({"jets": {"expr": "x", "first": "four"}}, "features.jets.first: 'four' is not a whole number"),
    ({"jets": {"expr": "x", "first": 0}}, "features.jets.first: 0"),
    ({"jets": {"expr": "x", "fill": "none"}}, "features.jets.fill: 'none' is not a number"),
    ({"event": "x"}, "column 'event' would shadow an event identifier"),
    ({"weight": "x"}, "'weight' is reserved"),
    ({"j": {"expr": "x", "first": 2}, "j_1": "x"}, "column 'j_1' would shadow a column of features.j"),
    ({"jets": {"expr": "x", "first": 2.5}}, "features.jets.first: 2.5 is not a whole number (e.g. 1)"),
    ({"jets": {"expr": "x", "first": True}}, "features.jets.first: True is not a whole number"),
    ({"jets": {"expr": "x", "mask": "yes"}}, "features.jets.mask: 'yes' is not true or false"),
    ({"jets": {"expr": "x", "label": 3}}, "features.jets.label: 3 is not text"),
    ({"jets": {"first": 2}}, "features.jets: needs the key 'expr'"),
])
def test_spec_mistakes_are_named(features: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        FeatureSpec({"features": features, "event_id": ["event"]}, origin="spec.yaml")
    assert fragment in str(err.value) and "spec.yaml" in str(err.value)


@pytest.mark.parametrize("top, fragment", [
    ({"nan_policy": "warn"}, "spec.yaml.nan_policy: 'warn' is not one of raise, replace"),
    ({"fill": "0"}, "spec.yaml.fill: '0' is not a number"),
    ({"event_id": "event"}, "spec.yaml.event_id: 'event' is not a list"),
    ({"define": ["a: x"]}, "spec.yaml.define: ['a: x'] is not a mapping"),
    ({"features": None}, "spec.yaml.features: None is not a mapping"),
    ({"feature": {"x": "x"}}, "spec.yaml: unknown key 'feature' (closest: features"),
])
def test_spec_top_level_checked_like_every_settings_block(top: dict, fragment: str) -> None:
    """The spec's keys go through Settings.from_dict, the one mechanism for every settings block."""
    config = {"features": {"x": "x"}, **top}
    if "feature" in top:
        del config["features"]
    with pytest.raises(ConfigError) as err:
        FeatureSpec(config, origin="spec.yaml")
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_spec_schema_comes_from_the_same_definitions() -> None:
    from hepml.features.options import FeatureOptions, SpecOptions

    spec, feature = SpecOptions.json_schema(), FeatureOptions.json_schema()
    assert spec["required"] == ["features"] and feature["required"] == ["expr"]
    assert spec["properties"]["nan_policy"]["enum"] == ["raise", "replace"]
    assert feature["properties"]["first"] == {"type": ["integer", "null"], "minimum": 1, "maximum": 1000,
                                              "description": "default null"}
    assert spec["properties"]["event_id"]["items"] == {"type": "string"}
    empty = FeatureSpec({"features": {"x": "x"}, "define": None, "groups": None})  # an empty YAML value
    assert empty.defines == {} and empty.groups == {}


def test_per_object_cut_is_an_error_not_a_silent_object_filter(hzz: str) -> None:
    from hepml.io import iterate

    with pytest.raises(ConfigError, match="one value per object, not per event; reduce it with any"):
        list(iterate(hzz, ["MET_px"], cut="Jet_Px > 0"))


# --- 7. interrupted jobs leave nothing behind for long -------------------------------------------

def test_stale_temporaries_are_removed_by_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "out.root"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    ours = temporary_sibling(target)
    stale = ours.with_name(ours.name.rsplit("-", 1)[0] + f"-{dead.stdout.strip()}")
    stale.mkdir()
    (stale / "half.root").write_bytes(b"x" * 1000)
    foreign = target.with_name(f".{target.name}.tmp-otherhost-1")
    foreign.write_bytes(b"x")
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"done")
    assert target.read_bytes() == b"done" and not stale.exists()
    assert foreign.exists()  # another host's job may still be writing: kept for a day
    old = time.time() - 2 * 24 * 3600
    os.utime(foreign, (old, old))
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"again")
    assert leftovers(tmp_path) == ["out.root"]


def _kill_while_writing(args: list[str], target: Path, cwd: Path, timeout: float = 240.0) -> None:
    """Start ``hepml ARGS``, wait until its temporary output exists, then kill -9 it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "hepml.cli", *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    pattern = f".{target.name}.tmp-*"
    deadline = time.monotonic() + timeout
    try:
        while not list(target.parent.glob(pattern)):
            assert proc.poll() is None, f"hepml {args[0]} finished before it could be killed"
            assert time.monotonic() < deadline, "no temporary output appeared"
            time.sleep(0.02)
        time.sleep(0.3)  # well inside the writing
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not target.exists(), "a killed job left a file that looks finished"
    assert list(target.parent.glob(pattern)), "the killed job should have left its temporary behind"


@pytest.fixture(scope="module")
def big_ntuple(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hepml.simulate.higgs import write_ntuple

    path = tmp_path_factory.mktemp("big") / "signal.root"
    write_ntuple(path, "signal", 150_000, seed=11, chunk_size=20_000)
    return path


def test_killed_feature_job_is_redone_cleanly(big_ntuple: Path, tmp_path: Path) -> None:
    args = [f"{big_ntuple}:Events", "--spec", str(SPEC), "--label", "1", "--step-size", "2000"]
    reference = tmp_path / "reference.root"
    assert hepml("features", *args, "--out", str(reference)).returncode == 0
    out = tmp_path / "out" / "features.root"
    _kill_while_writing(["features", *args, "--out", str(out)], out, tmp_path)
    rerun = hepml("features", *args, "--out", str(out))
    assert rerun.returncode == 0, rerun.stderr
    assert leftovers(out.parent) == ["features.root"]
    for branch, values in uproot.open(reference)["features"].arrays(library="np").items():
        np.testing.assert_array_equal(uproot.open(out)["features"][branch].array(library="np"), values)


def test_killed_scoring_job_is_redone_cleanly(dnn_bundle: Path, big_ntuple: Path, tmp_path: Path) -> None:
    args = [str(dnn_bundle), f"{big_ntuple}:Events", "--step-size", "1000"]
    reference = tmp_path / "reference.root"
    assert hepml("score", *args, "--out", str(reference)).returncode == 0
    out = tmp_path / "out" / "scores.root"
    _kill_while_writing(["score", *args, "--out", str(out)], out, tmp_path)
    assert hepml("score", *args, "--out", str(out)).returncode == 0
    assert leftovers(out.parent) == ["scores.root"]
    for branch, values in uproot.open(reference)["scores"].arrays(library="np").items():
        np.testing.assert_array_equal(uproot.open(out)["scores"][branch].array(library="np"), values)


def test_killed_training_job_is_redone_cleanly(higgs_features: list[Path], tmp_path: Path) -> None:
    args = [
        *map(str, higgs_features),
        "--spec",
        str(SPEC),
        "--group",
        "all",
        "--model",
        "dnn",
        "--k",
        "2",
        "--fold",
        "0",
        "--seed",
        "4",
        "--model-config",
        json.dumps({"epochs": 40, "patience": 40, "units": 32}),
    ]
    reference = tmp_path / "reference"
    out = tmp_path / "out" / "fold0"
    _kill_while_writing(["train-fold", *args, "--out", str(out)], out, tmp_path)
    quick = [*args[:-1], json.dumps({"epochs": 2, "units": 32})]
    assert hepml("train-fold", *quick, "--out", str(reference)).returncode == 0
    assert hepml("train-fold", *quick, "--out", str(out)).returncode == 0
    assert leftovers(out.parent) == ["fold0"]
    with np.load(reference / "scores.npz") as a, np.load(out / "scores.npz") as b:
        np.testing.assert_array_equal(a["event"], b["event"])
        np.testing.assert_array_equal(a["raw"], b["raw"])


def test_one_weight_rule_spec_times_sample_factor() -> None:
    """The spec's per-event weight times the sample sheet's factor; a factor that reads the spec's
    weight branch again would count it twice and is refused, naming both."""
    spec = FeatureSpec({"features": {"x": "x"}, "weight": "genWeight"}, origin="spec.yaml")
    assert spec.with_sample_weight("0.5071 * 139000 / 4e6", where="sheet ttH").weight.text == \
        "(genWeight) * (0.5071 * 139000 / 4e6)"
    assert spec.with_sample_weight("1", where="sheet").weight.text == "genWeight"
    unweighted = FeatureSpec({"features": {"x": "x"}}, origin="spec.yaml")
    assert unweighted.with_sample_weight("xsecWeight", where="sheet").weight.text == "xsecWeight"
    with pytest.raises(ConfigError) as err:
        spec.with_sample_weight("genWeight * xsecWeight", where="sheet ttH")
    assert str(err.value).startswith("sheet ttH: weight 'genWeight * xsecWeight' reads 'genWeight', which the "
                                     "spec's weight 'genWeight' already multiplies in")


def test_a_weight_counted_twice_is_refused_by_the_features_verb(higgs_files: dict[str, Path],
                                                                 tmp_path: Path) -> None:
    """The same rule at the command line: one line naming both weights, the input untouched and
    no feature file (not even a partial one) left behind."""
    before = sha256(higgs_files["signal"])
    out = tmp_path / "out" / "signal.root"
    done = hepml("features", f"{higgs_files['signal']}:Events", "--spec", str(SPEC), "--label", "1",
                 "--weight", "genWeight * 0.5", "--out", str(out))
    one_line_error(done, "weight 'genWeight * 0.5' reads 'genWeight'", "already multiplies in")
    assert sha256(higgs_files["signal"]) == before
    assert not out.parent.exists() or leftovers(out.parent) == []
