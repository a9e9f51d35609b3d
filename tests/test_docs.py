"""The docs site builds strictly, its generated parts come from the code and the runs, and the
tutorial's and how-to's commands run as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)], cwd=ROOT,
                         capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    return out


def _text(page: Path) -> str:
    return re.sub(r"<[^>]+>", "", page.read_text())


def test_cli_reference_has_every_verb_and_option(site: Path) -> None:
    from hepml.cli import build_parser

    page = _text(site / "reference" / "cli" / "index.html")
    verbs = next(a for a in build_parser()._actions if a.dest == "verb").choices
    for name, parser in verbs.items():
        assert f"hepml {name}" in page
        for action in parser._actions:
            assert all(option in page for option in action.option_strings)


def test_results_tables_come_from_the_runs_metrics(site: Path) -> None:
    page = _text(site / "results" / "index.html")
    # the run the page's first section is generated from
    run = DOCS / "results" / re.findall(r"<!-- hepml:results (\S+) -->", (DOCS / "results.md").read_text())[0]
    higgs = json.loads((run / "higgs.json").read_text())
    for model, sets in higgs["auc"].items():
        for name, value in sets.items():
            assert f"{value:.4f} ± {higgs['auc_uncertainty'][model][name]:.4f}" in page
    cosmic = json.loads((run / "cosmic.json").read_text())
    assert f"{cosmic['iou']['cosmic']:.3f}" in page
    dann = json.loads((run / "dann.json").read_text())
    assert f"{dann['higgs']['jes']['summary']['gap_closed_of_means']:.0%}" in page


def test_settings_reference_is_the_settings_classes(site: Path) -> None:
    from hepml.features.options import FeatureOptions
    from hepml.models.dense import DenseConfig

    page = _text(site / "reference" / "settings" / "index.html")
    for cls in (DenseConfig, FeatureOptions):
        for key in cls.json_schema()["properties"]:
            assert key in page
    assert "exclusive" not in page and "&lt; 1" in page  # dropout's limit, in words


def test_readme_is_short_and_its_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", readme)
    assert links and all((ROOT / link).exists() for link in links), [x for x in links if not (ROOT / x).exists()]


def _blocks(page: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", (DOCS / page).read_text(), re.S)


@pytest.mark.slow
def test_tutorial_and_calibration_howto_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each bash block runs in order in one folder (the install line skipped, samples made smaller)."""
    tutorial = (DOCS / "tutorial.md").read_text()
    spec = re.search(r'```yaml title="spec.yaml"\n(.*?)```', tutorial, re.S)
    assert spec
    (tmp_path / "spec.yaml").write_text(spec.group(1))
    commands = [b for b in _blocks("tutorial.md", "bash") if "pip install" not in b]
    commands += _blocks("howto/calibration-priors.md", "bash") + _blocks("howto/fold-keys.md", "bash")
    script = "set -euo pipefail\n" + "\n".join(commands).replace("--events 20000", "--events 2500")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    run = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    monkeypatch.chdir(tmp_path)
    exec(_blocks("tutorial.md", "python")[0], {}, names := {})  # the Python snippet reads them back
    scores = uproot.open(tmp_path / "signal_scores.root")["scores"].arrays()
    assert len(scores) == 2500 and len(names["scores"]) == 2500
    failed = ~scores.pass_cut
    assert 0 < ak.sum(failed) < 2500 and np.all(np.isnan(ak.to_numpy(scores.score[failed])))
    assert np.all(np.isfinite(ak.to_numpy(scores.score[~failed])))
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0.5 < metrics["auc"]["dnn"]["all"] < 1
    assert (tmp_path / "plots" / "roc.pdf").stat().st_size > 0
    for bundle, prior in (("dnn_weighted", "weighted"), ("dnn_balanced", "balanced"), ("dnn_1pc", 0.01)):
        assert json.loads((tmp_path / bundle / "bundle.json").read_text())["calibration_prior"] == prior
