"""End-to-end: the Snakemake workflow on small samples (marked slow; CI runs it)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml

from conftest import REPO

pytestmark = pytest.mark.slow

SMALL = {"layers": 2, "units": 32, "epochs": 3, "batch_size": 256, "patience": 2}


def _workdir(tmp_path: Path) -> Path:
    shutil.copy(REPO / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(REPO / "workflows", tmp_path / "workflows")
    return tmp_path


def _snakemake(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, capture_output=True, text=True, env=env)


def test_lint_and_dry_run_of_the_default_config(tmp_path: Path) -> None:
    work = _workdir(tmp_path)
    lint = _snakemake(work, "--lint")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "Lints for" not in lint.stdout + lint.stderr
    dry = _snakemake(work, "-n", "--cores", "2")
    assert dry.returncode == 0, dry.stderr
    for rule in ("higgs_generate", "higgs_features", "higgs_train_fold", "higgs_calibrate", "higgs_score",
                 "higgs_evaluate", "higgs_plot", "cosmic_generate", "cosmic_train", "cosmic_score", "cosmic_evaluate",
                 "dann_generate", "dann_higgs", "dann_lartpc_generate", "dann_lartpc", "dann_metrics"):
        assert rule in dry.stdout
    # the overlays the README names: three cosmic seeds, the full (GPU) scale
    seeds = _snakemake(work, "-n", "--cores", "2", "--configfile", "workflows/config/seeds.yaml")
    assert seeds.returncode == 0 and "cosmic_train_seed" in seeds.stdout, seeds.stderr
    full = _snakemake(work, "-n", "-p", "--cores", "2", "--configfile", "workflows/config/full.yaml")
    assert full.returncode == 0, full.stderr
    assert "--events=2200000" in full.stdout and '"wires": 512' in full.stdout and '"units": 300' in full.stdout
    higgs_cpu = _snakemake(work, "-n", "-p", "--cores", "2", "--configfile", "workflows/config/full.yaml",
                           "workflows/config/full_higgs_cpu.yaml")
    assert higgs_cpu.returncode == 0, higgs_cpu.stderr
    assert '"units": 300' in higgs_cpu.stdout and '"epochs": 3' in higgs_cpu.stdout
    assert "results/full_higgs_cpu/higgs/metrics.json" in higgs_cpu.stdout and "cosmic_train" not in higgs_cpu.stdout
    # an overlay drops one DANN study with null: here the LArTPC one
    dann_cpu = _snakemake(work, "-n", "-p", "--cores", "2", "--configfile", "workflows/config/full.yaml",
                          "workflows/config/full_dann_higgs_cpu.yaml")
    assert dann_cpu.returncode == 0, dann_cpu.stderr
    assert "--events=300000" in dann_cpu.stdout and "dann-higgs" in dann_cpu.stdout
    assert "dann_lartpc" not in dann_cpu.stdout and "higgs_train_fold" not in dann_cpu.stdout
    window = _snakemake(work, "-n", "-p", "--cores", "2", "--configfile", "workflows/config/full.yaml",
                        "workflows/config/sbnd_window.yaml")
    assert window.returncode == 0, window.stderr
    assert '"wires": 2048, "ticks": 1280' in window.stdout and '"growth": "additive"' in window.stdout
    # a second analysis in the same checkout: every output and log under its own folder
    other = _snakemake(work, "-n", "-p", "--cores", "2", "--config", "results=analyses/ttH")
    assert other.returncode == 0, other.stderr
    assert "analyses/ttH/higgs/metrics.json" in other.stdout and "analyses/ttH/logs/higgs/" in other.stdout
    assert "results/" not in other.stdout.replace("analyses/ttH/", "")
    escape = _snakemake(work, "-n", "--config", "results=../elsewhere")
    assert escape.returncode != 0 and "does not match" in escape.stdout + escape.stderr
    bad = work / "bad.yaml"
    bad.write_text(yaml.safe_dump({"higgs": {"kfold": 1}}))
    out = _snakemake(work, "-n", "--configfile", str(bad))
    assert out.returncode != 0 and "less than the minimum of 2" in out.stdout + out.stderr
    bad.write_text(yaml.safe_dump({"higgs": {"samples": "missing.tsv"}}))
    out = _snakemake(work, "-n", "--configfile", str(bad))
    text = out.stdout + out.stderr
    assert out.returncode != 0 and "config higgs.samples: hepml samples: error: missing.tsv: sample sheet not" in text
    shifts = [{"name": "jes", "detector": {}}, {"name": "jes", "detector": {"jet_energy_scale": 0.9}}]
    bad.write_text(yaml.safe_dump({"dann": {"higgs": {"events_per_class": 100, "featureset": "all",
                                                      "shifts": shifts}}}))
    out = _snakemake(work, "-n", "--configfile", str(bad))
    assert out.returncode != 0 and "dann.higgs.shifts: each shift needs a name of its own" in out.stdout + out.stderr


def test_demo_workflow_end_to_end(tmp_path: Path) -> None:
    work = _workdir(tmp_path)
    config = yaml.safe_load((work / "workflows/config/default.yaml").read_text())
    config["higgs"]["generate"]["events_per_class"] = 3000
    config["higgs"]["kfold"] = 2
    config["higgs"]["dnn"] = SMALL
    config["higgs"]["bdt"] = {"max_iter": 30}
    config["higgs"]["xgb"] = {"n_estimators": 30}
    config["plots"] = {"experiment": "CMS", "label": "Simulation Preliminary", "energy": "13 TeV",
                       "lumi": "139 fb$^{-1}$"}
    config["cosmic"].update(events={"train": 40, "test": 10}, geometry={"wires": 32, "ticks": 32},
                            detector={"cosmic_mean": 2}, seeds=[5, 6],
                            uresnet={**config["cosmic"]["uresnet"], "depth": 2, "filters": 4, "epochs": 2})
    assert config["tasks"] == ["higgs", "cosmic", "dann"]  # the demo runs every task
    assert len(config["dann"]["seeds"]) >= 3 and len(config["dann"]["higgs"]["shifts"]) >= 3  # the demo's suite
    config["dann"]["seeds"] = [5, 6]
    shifts = [shift for shift in config["dann"]["higgs"]["shifts"] if shift["name"] in ("jes", "pileup")]
    config["dann"]["higgs"].update(events_per_class=2000, dnn=SMALL, shifts=shifts)
    config["dann"]["lartpc"].update(events={"train": 30, "test": 12}, geometry={"wires": 32, "ticks": 32},
                                    detector={"cosmic_mean": 2}, uresnet={"depth": 2, "filters": 4, "epochs": 1})
    (work / "small.yaml").write_text(yaml.safe_dump(config))
    run = _snakemake(work, "--cores", "2", "--configfile", "small.yaml")
    assert run.returncode == 0, run.stderr[-3000:]
    # every figure the workflow made was checked for overlapping text as it was saved (hepml.plotting.save)
    logs = list((work / "results/logs").rglob("*.log"))
    assert not [line for log in logs for line in log.read_text().splitlines() if " overlaps " in line]
    assert {p.stem for p in (work / "results/higgs/plots").glob("*.png")} >= {
        "scores_dnn_all", "scores_bdt_all", "reliability_bdt_all", "history_bdt_all"}  # BDT figures beside the DNN's
    studies = json.loads((work / "results/dann/metrics.json").read_text())
    assert set(studies["higgs"]) == {"jes", "pileup"}
    assert studies["higgs"]["jes"]["target_detector"] == {"jet_energy_scale": 0.8}
    for study in (studies["higgs"]["jes"], studies["higgs"]["pileup"], studies["lartpc"]):
        assert set(study["seeds"]) == {"5", "6"} and study["summary"]["seeds"] == 2
        for seed in ("5", "6"):
            assert {"source", "target", "domain_auc", "gap_closed"} <= set(study["seeds"][seed])
        for key in ("source_only", "dann", "oracle"):
            values = [study["seeds"][seed]["target"][key] for seed in ("5", "6")]
            assert study["summary"][f"target.{key}"]["mean"] == pytest.approx(np.mean(values))
            assert study["summary"][f"target.{key}"]["std"] == pytest.approx(np.std(values, ddof=1))
    for key in ("source_only", "dann", "oracle"):
        assert 0.5 < studies["higgs"]["jes"]["summary"][f"target.{key}"]["mean"] < 1
        assert 0 <= studies["lartpc"]["summary"][f"target.{key}"]["mean"] <= 1  # mean IoU of cosmic and neutrino
    runs = studies["higgs"]["jes"]["seeds"]
    assert runs["5"]["target"]["dann"] != runs["6"]["target"]["dann"]  # each seed trains its own networks
    for seed in (5, 6):
        bundle = work / f"results/dann/higgs/pileup/seed{seed}/bundle/bundle.json"
        assert json.loads(bundle.read_text())["seed"] == seed
    metrics = json.loads((work / "results/higgs/metrics.json").read_text())
    models = ("dnn", "bdt", "xgb") if importlib.util.find_spec("xgboost") else ("dnn", "bdt")
    assert set(metrics["auc"]) == set(models)  # xgboost joins the baselines when installed
    for model in models:
        for fs in ("low", "high", "all"):
            assert 0.55 < metrics["auc"][model][fs] < 1.0
    assert set(metrics["rejection_at_eff"]) == {"0.5", "0.7", "0.9"}
    assert 0 <= metrics["ece"]["calibrated"] < 0.2 and 0 < metrics["brier"] < 0.3
    assert set(metrics["ks"]) == {"signal", "background"}
    for process in ("signal", "background"):
        scores = uproot.open(work / f"results/higgs/scores/{process}/{process}.root")["scores"]
        source = uproot.open(work / f"results/higgs/ntuples/{process}.root")["Events"]
        assert scores.num_entries == source.num_entries == 3000
        np.testing.assert_array_equal(scores["event"].array(library="np"), source["event"].array(library="np"))
        s = scores["score"].array(library="np")
        assert np.all((s >= 0) & (s <= 1))
    for name in ("roc", "scores_dnn_all", "reliability_dnn_all", "features", "correlations", "importance_dnn_all"):
        assert (work / f"results/higgs/plots/{name}.pdf").stat().st_size > 1000
        assert (work / f"results/higgs/plots/{name}.png").stat().st_size > 1000
    cosmic = json.loads((work / "results/cosmic/metrics.json").read_text())
    for key in ("cosmic", "neutrino"):
        assert 0 <= cosmic["iou"][key] <= 1
    for key in ("overall", "non_background"):
        assert 0 <= cosmic["accuracy"][key] <= 1
    for key in ("cosmic_rejection", "neutrino_efficiency", "event_neutrino_retention"):
        assert 0 <= cosmic[key] <= 1
    assert (work / "results/cosmic/displays/event_display_0.png").stat().st_size > 1000
    # every seed its own network; the reference (first) seed's numbers at the top, the spread beside them
    assert set(cosmic["seeds"]) == {"5", "6"} and cosmic["iou"] == cosmic["seeds"]["5"]["iou"]
    assert cosmic["seeds"]["6"] == json.loads((work / "results/cosmic/seed6/evaluation.json").read_text())
    ious = [cosmic["seeds"][seed]["iou"]["cosmic"] for seed in ("5", "6")]
    assert cosmic["summary"]["iou.cosmic"] == {"mean": pytest.approx(np.mean(ious)),
                                               "std": pytest.approx(np.std(ious, ddof=1)), "n": 2}
    pixels = uproot.open(work / "results/cosmic/scores/test.root")["scores"]
    assert pixels.num_entries == 10 and {"Pixel_cosmic", "Pixel_neutrino", "Clean_charge"} <= set(pixels.keys())
    # the demo scores each window as the mean over its mirror images (cosmic.score_mirrors)
    from hepml.tasks.cosmic.score import score_pixels

    assert config["cosmic"]["score_mirrors"] is True
    mirrored = score_pixels(work / "results/cosmic/model", str(work / "results/cosmic/events/test.root"),
                            tmp_path / "mirrored.root", mirrors=True)
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(pixels["Pixel_cosmic"].array())),
                               ak.to_numpy(ak.flatten(uproot.open(mirrored)["scores"]["Pixel_cosmic"].array())),
                               atol=1e-6)
    assert not list((work / "results").rglob(".*.tmp-*"))
    again = _snakemake(work, "-n", "--cores", "2", "--configfile", "small.yaml")
    assert "Nothing to be done" in again.stdout + again.stderr
    logs = list((work / "results" / "logs").rglob("*.log"))
    assert len(logs) > 10 and not (work / "logs").exists()  # every job's log under the results folder
    job_logs = "".join(p.read_text() for p in logs)
    assert "cuInit" not in run.stdout + run.stderr + job_logs
    assert "CONDOR_CONFIG" not in job_logs  # HTCondor's plugin may warn in snakemake's own output, never in a job's
    report = _snakemake(work, "--report", "report.html", "--configfile", "small.yaml")
    assert report.returncode == 0, report.stderr[-3000:]
    html = (work / "report.html").read_text()
    for figure in ("roc.png", "roc_linear.png", "reliability_dnn_all.png", "event_display_0.png", "dann_scores.png",
                   "dann_suite.png"):
        assert figure in html, figure
    for caption in ("working points of the reference", "event displays", "Domain adaptation"):
        assert caption in html, caption
    assert "metrics.json" in html and "config.json" in html  # the metrics and the configuration


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One checkout shared by the analyses below, each under its own results: folder."""
    return _workdir(tmp_path_factory.mktemp("checkout"))


def _tree_hashes(folder: Path) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_user_ntuples_from_a_sample_sheet(checkout: Path) -> None:
    """Several files per sample (a glob and a list), each scored into its own friend tree; file names
    with spaces and shell syntax are quoted (nothing runs), a weight starting with '-' is a value; the
    sheet's weight multiplies the spec's (recorded in the bundle, said in the log); everything under
    the analysis's own results folder."""
    from hepml.simulate.higgs import write_ntuple

    work = checkout
    data = work / "data"
    names = {"sig": ["sig_$(touch PWNED)_0", "sig two_1"], "bkg": ["bkg_0", "bkg_1"]}
    for i in range(2):
        write_ntuple(data / f"{names['sig'][i]}.root", "signal", 1500, seed=10 + i, first_event=1000 * i)
        write_ntuple(data / f"{names['bkg'][i]}.root", "background", 1500, seed=20 + i, first_event=10**6 + 1000 * i)
    (work / "samples.tsv").write_text(
        "sample\tfiles\ttree\tlabel\tweight\n"
        "sig\tdata/sig*.root\tEvents\t1\t2\n"
        "bkg\tdata/bkg_0.root,data/bkg_1.root\tEvents\t0\t-2 * -0.5\n"
    )
    config = yaml.safe_load((work / "workflows/config/user_ntuples.yaml").read_text())
    config["higgs"].update(samples="samples.tsv", kfold=2, dnn=SMALL, bdt={"max_iter": 20})
    config["results"] = "analyses/user"
    (work / "user.yaml").write_text(yaml.safe_dump(config))
    run = _snakemake(work, "--cores", "2", "--configfile", "user.yaml")
    assert run.returncode == 0, run.stderr[-3000:]
    assert not list(work.rglob("PWNED")), "a file name ran as a shell command"
    for sample, stems in names.items():
        for stem in stems:
            assert uproot.open(work / f"analyses/user/higgs/scores/{sample}/{stem}.root")["scores"].num_entries == 1500
    weights = uproot.open(work / "analyses/user/higgs/features/sig.root")["features"]["weight"].array(library="np")
    assert set(np.unique(np.abs(weights))) == {2.0}  # the spec's genWeight (±1) times the sheet's factor
    background = uproot.open(work / "analyses/user/higgs/features/bkg.root")["features"]["weight"].array(library="np")
    raw = np.concatenate([uproot.open(data / f"{stem}.root")["Events"]["genWeight"].array(library="np")
                          for stem in names["bkg"]])
    np.testing.assert_array_equal(background, raw)  # '-2 * -0.5' arrived as a value, not an option
    info = json.loads((work / "analyses/user/higgs/models/dnn_all/bundle.json").read_text())
    assert info["weights"] == {"analyses/user/higgs/features/sig.root": "(genWeight) * (2)",
                               "analyses/user/higgs/features/bkg.root": "(genWeight) * (-2 * -0.5)"}
    assert "weights of analyses/user/higgs/features/sig.root: (genWeight) * (2)" in (
        work / "analyses/user/logs/higgs/features_sig.log").read_text()
    assert not (work / "results").exists() and not (work / "logs").exists()


def test_flat_ntuples_without_event_ids(checkout: Path) -> None:
    """workflows/config/flat_ntuples.yaml on generated flat ntuples (per-object branch names, no
    run/event, cross-section weights ~3300x apart), with the BDT as reference, as a second analysis
    (results: other) in the checkout of the first: every event's written-back raw score is its
    out-of-fold score (the hash fold key agrees between training and scoring) and what 'hepml score'
    of the bundle gives; the calibrated score is the balanced posterior, not the tiny absolute one;
    the other analysis's files are untouched."""
    from hepml.expr import parse
    from hepml.scoring import Scorer
    from hepml.simulate.higgs import write_ntuple

    work = checkout
    other = _tree_hashes(work / "analyses") if (work / "analyses").exists() else {}
    files = {"ttH": ["ttH_1", "ttH_2"], "ttbar": ["ttbar_part1", "ttbar_part2"]}
    for i, (sample, stems) in enumerate(files.items()):
        for j, stem in enumerate(stems):
            write_ntuple(work / f"data/{stem}.root", "signal" if sample == "ttH" else "background", 2000,
                         seed=30 + 2 * i + j, layout="flat", tree="tree")
    sheet = (work / "workflows/config/flat_samples.tsv").read_text().replace("/data/flat/", "data/")
    (work / "flat_samples.tsv").write_text(sheet)
    config = yaml.safe_load((work / "workflows/config/flat_ntuples.yaml").read_text())
    config["higgs"].update(samples="flat_samples.tsv", kfold=2, featuresets=["all"], dnn=SMALL, reference="bdt_all")
    config["results"] = "other"
    (work / "flat.yaml").write_text(yaml.safe_dump(config))
    run = _snakemake(work, "--cores", "2", "--configfile", "flat.yaml")
    assert run.returncode == 0, run.stderr[-3000:]
    bundle = work / "other/higgs/models/bdt_all"
    info = json.loads((bundle / "bundle.json").read_text())
    spec = yaml.safe_load((work / "workflows/config/flat_features.yaml").read_text())
    assert info["fold_key"] == spec["fold_key"] and info["calibration_prior"] == "balanced"
    oof = uproot.open(bundle / "oof.root")["oof"].arrays(["score_raw", "fold_key", "label"], library="np")
    out_of_fold = dict(zip(oof["fold_key"].tolist(), oof["score_raw"].tolist()))
    key = parse(spec["fold_key"])
    signal_scores = []
    for sample, stems in files.items():
        for stem in stems:
            scores = uproot.open(work / f"other/higgs/scores/{sample}/{stem}.root")["scores"].arrays(library="np")
            assert len(scores["score"]) == 2000 and not {"run", "event"} & set(scores)
            ntuple = uproot.open(work / f"data/{stem}.root")["tree"].arrays()
            expected = np.array([out_of_fold[k] for k in key.evaluate(ntuple).tolist()])
            np.testing.assert_allclose(scores["score_raw"], expected, rtol=1e-5, atol=1e-6)
            passed = scores["pass_cut"]  # the framework path: arrays in memory, the cut applied by the caller
            direct = Scorer.load(bundle)(ntuple[passed])
            np.testing.assert_array_equal(scores["score"][passed], direct["score"])
            assert np.isnan(scores["score"][~passed]).all()
            if sample == "ttH":
                signal_scores.append(scores["score"])
    weights = uproot.open(work / "other/higgs/features/ttH.root")["features"]["weight"].array(library="np")
    background = uproot.open(work / "other/higgs/features/ttbar.root")["features"]["weight"].array(library="np")
    ratio = (831.76 / 2.0e6) / (0.5071 / 4.0e6)  # the sheet's sigma / N_generated of ttbar over ttH: ~3300
    assert np.mean(np.abs(background)) / np.mean(np.abs(weights)) == pytest.approx(ratio, rel=1e-5)
    assert np.median(np.concatenate(signal_scores)) > 0.5  # balanced posterior
    metrics = json.loads((work / "other/higgs/metrics.json").read_text())
    assert metrics["calibration_prior"] == "balanced" and metrics["auc"]["bdt"]["all"] > 0.6
    assert _tree_hashes(work / "analyses") == other if other else not (work / "analyses").exists()
    assert not (work / "results").exists()
    logs = {p.name: p.read_text() for p in (work / "other/logs").rglob("*.log")}
    assert "weights of other/higgs/features/ttH.root: (mc_weight) * (" in logs["features_ttH.log"]
    assert not [name for name, text in logs.items() if " overlaps " in text or "CONDOR_CONFIG" in text]
    assert {p.stem for p in (work / "other/higgs/plots").glob("*.png")} >= {"scores_bdt_all", "scores_dnn_all"}


def test_config_mistakes_are_named(tmp_path: Path) -> None:
    """A misspelt top-level key and two files that would share a score file stop the workflow."""
    work = _workdir(tmp_path)
    (work / "typo.yaml").write_text(yaml.safe_dump({"task": ["higgs"]}))
    out = _snakemake(work, "-n", "--configfile", "typo.yaml")
    assert out.returncode != 0 and "('task' was unexpected)" in out.stdout + out.stderr
    for folder in ("a", "b"):
        (work / folder).mkdir()
        (work / folder / "x.root").write_bytes(b"")
    (work / "samples.tsv").write_text("sample\tfiles\ttree\tlabel\tweight\nsig\ta/x.root,b/x.root\tEvents\t1\t1\n")
    (work / "dup.yaml").write_text(yaml.safe_dump({"higgs": {"samples": "samples.tsv"}}))
    out = _snakemake(work, "-n", "--configfile", "dup.yaml")
    assert out.returncode != 0 and "two files named x.root" in out.stdout + out.stderr
