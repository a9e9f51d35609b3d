"""hepml as one step of an analysis framework: uproot.iterate loops, dask-awkward, coffea, ONNX."""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from hepml.errors import HepmlError
from hepml.scoring import Scorer, dask_scores


@pytest.fixture(scope="module")
def reference(dnn_bundle: Path, higgs_files: dict[str, Path]) -> tuple[ak.Array, np.ndarray]:
    scorer = Scorer.load(dnn_bundle)
    arrays = uproot.open(higgs_files["signal"])["Events"].arrays(scorer.branches)
    return arrays, scorer(arrays)["score"]


def test_uproot_iterate_loop(dnn_bundle: Path, higgs_files: dict[str, Path], reference) -> None:
    scorer = Scorer.load(dnn_bundle)
    scores = [scorer(chunk)["score"] for chunk in
              uproot.iterate(f"{higgs_files['signal']}:Events", scorer.branches, step_size=1000)]
    np.testing.assert_allclose(np.concatenate(scores), reference[1], atol=1e-6)


def test_dask_awkward_map_partitions(dnn_bundle: Path, reference) -> None:
    dak = pytest.importorskip("dask_awkward")
    arrays, expected = reference
    lazy = dak.from_awkward(arrays, npartitions=4)
    scored = dask_scores(Scorer.load(dnn_bundle), lazy)
    for scheduler in ("threads", "sync"):
        result = scored.compute(scheduler=scheduler)
        np.testing.assert_allclose(ak.to_numpy(result.score), expected, atol=1e-6)


def test_dask_awkward_from_uproot_with_processes(dnn_bundle: Path, higgs_files: dict[str, Path], reference) -> None:
    """Workers in other processes reload the Scorer from its path (it pickles by reference)."""
    pytest.importorskip("dask_awkward")
    scorer = Scorer.load(dnn_bundle)
    lazy = uproot.dask({str(higgs_files["signal"]): "Events"}, filter_name=scorer.branches, step_size=2000)
    result = dask_scores(scorer, lazy).compute(scheduler="processes", num_workers=2)
    np.testing.assert_allclose(ak.to_numpy(result.score), reference[1], atol=1e-6)


def test_coffea_nanoevents(dnn_bundle: Path, higgs_files: dict[str, Path], reference) -> None:
    nanoevents = pytest.importorskip("coffea.nanoevents", reason="coffea is not installed")
    events = nanoevents.NanoEventsFactory.from_root(
        {str(higgs_files["signal"]): "Events"}, schemaclass=nanoevents.NanoAODSchema, mode="eager",
    ).events()
    assert "Jet" in events.fields  # nested collections, as a coffea processor sees them
    scores = Scorer.load(dnn_bundle)(events)["score"]
    np.testing.assert_allclose(scores, reference[1], atol=1e-6)


def test_coffea_nanoevents_without_event_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NanoAOD-like files with no run/luminosityBlock/event: a hash fold key trains and scores, and
    coffea reads them once NanoAODSchema.error_missing_event_ids is False (coffea's own switch)."""
    nanoevents = pytest.importorskip("coffea.nanoevents", reason="coffea is not installed")
    import yaml

    from hepml.features import FeatureSpec
    from hepml.features.files import read_features, write_features
    from hepml.io.write import write_friend
    from hepml.simulate.higgs import iter_chunks
    from hepml.tasks.higgs.train import train_kfold

    from conftest import SPEC

    config = {k: v for k, v in yaml.safe_load(SPEC.read_text()).items() if k != "event_id"}
    spec = FeatureSpec({**config, "fold_key": "hash(MET_pt, MET_phi, Lepton_pt[:, 0])"})
    features = []
    for label, process in ((1, "signal"), (0, "background")):
        chunks = ({k: v for k, v in c.items() if k not in ("run", "luminosityBlock", "event")}
                  for c in iter_chunks(process, 2000, seed=60 + label))
        write_friend(tmp_path / f"{process}.root", chunks, tree="Events")
        write_features(spec, str(tmp_path / f"{process}.root"), tmp_path / f"f_{process}.root", label=label)
        features.append(tmp_path / f"f_{process}.root")
    table = read_features(features, spec.columns, spec.id_columns, fold_key=spec.fold_key.text)
    train_kfold(table, tmp_path / "bundle", model="dnn", k=2, model_config={"epochs": 2, "units": 16, "layers": 1},
                spec_config=spec.config)
    scorer = Scorer.load(tmp_path / "bundle")
    expected = scorer(uproot.open(tmp_path / "signal.root")["Events"].arrays(scorer.branches))["score_raw"]
    source = {str(tmp_path / "signal.root"): "Events"}
    with pytest.raises(Exception, match="error_missing_event_ids"):
        nanoevents.NanoEventsFactory.from_root(source, schemaclass=nanoevents.NanoAODSchema, mode="eager").events()
    monkeypatch.setattr(nanoevents.NanoAODSchema, "error_missing_event_ids", False)
    events = nanoevents.NanoEventsFactory.from_root(source, schemaclass=nanoevents.NanoAODSchema, mode="eager").events()
    np.testing.assert_allclose(scorer(events)["score_raw"], expected, atol=1e-6)


def test_onnx_export_agrees_with_keras(
    dnn_bundle: Path, higgs_files: dict[str, Path], reference, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    from hepml.cli import main
    from hepml.tasks.higgs.onnx import export_onnx

    files = export_onnx(dnn_bundle)
    assert [f.name for f in files] == ["fold0.onnx", "fold1.onnx", "fold2.onnx"]
    meta = json.loads((dnn_bundle / "onnx" / "model.json").read_text())
    assert meta["columns"] == Scorer.load(dnn_bundle).columns and meta["calibration"]["method"] == "isotonic"
    arrays, expected = reference
    onnx = Scorer.load(dnn_bundle, "onnxruntime")
    got = onnx(arrays)
    keras_raw = Scorer.load(dnn_bundle)(arrays)["score_raw"]
    np.testing.assert_allclose(got["score_raw"], keras_raw, atol=1e-5)
    assert np.mean(np.abs(got["score"] - expected) <= 1e-5) > 0.99  # isotonic steps may flip a rare tie
    out = tmp_path / "s.root"
    assert (
        main(
            ["score", str(dnn_bundle), f"{higgs_files['signal']}:Events", "--out", str(out), "--backend", "onnxruntime"]
        )
        == 0
    )
    assert uproot.open(out)["scores"].num_entries == len(expected)


def test_onnx_backend_without_export_says_how(tmp_path: Path, dnn_bundle: Path) -> None:
    import shutil

    pytest.importorskip("onnxruntime")
    copy = tmp_path / "bundle"
    shutil.copytree(dnn_bundle, copy, ignore=shutil.ignore_patterns("onnx"))
    with pytest.raises(HepmlError, match="run 'hepml export-onnx"):
        Scorer(copy, "onnxruntime")
