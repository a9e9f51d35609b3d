"""Shared fixtures: real public ntuples (scikit-hep-testdata) and small generated HIGGS samples."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "workflows" / "config" / "higgs_features.yaml"


def data_path(name: str) -> str:
    """A real public ntuple from scikit-hep-testdata's cache; skipped, with the reason, when it is not
    cached and cannot be downloaded (no network), instead of failing."""
    skhep_testdata = pytest.importorskip("skhep_testdata")
    try:
        return str(skhep_testdata.data_path(name))
    except Exception as err:  # noqa: BLE001 (requests' connection errors and the like)
        pytest.skip(f"{name} is not in the scikit-hep-testdata cache and cannot be downloaded here "
                    f"({type(err).__name__}); copy it into ~/.local/skhepdata (.ci/run copies ../shared/skhepdata)")


REAL_FILES = {"hzz", "zmumu", "nanoaod"}  # fixtures of scikit-hep-testdata files


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests reading scikit-hep-testdata files carry the ``network`` marker (``-m "not network"``)."""
    for item in items:
        if REAL_FILES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.network)


@pytest.fixture(scope="session")
def hzz() -> str:
    return data_path("uproot-HZZ.root")


@pytest.fixture(scope="session")
def zmumu() -> str:
    return data_path("uproot-Zmumu.root")


@pytest.fixture(scope="session")
def nanoaod() -> str:
    return data_path("nanoAOD_2015_CMS_Open_Data_ttbar.root")


@pytest.fixture(scope="session")
def higgs_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small generated signal and background ntuples (NanoAOD-like layout)."""
    from hepml.simulate.higgs import write_ntuple

    folder = tmp_path_factory.mktemp("higgs")
    files = {}
    for process, first in (("signal", 0), ("background", 1_000_000_000)):
        files[process] = folder / f"{process}.root"
        write_ntuple(files[process], process, 4000, seed=7, first_event=first, chunk_size=3000)
    return files


@pytest.fixture(scope="session")
def higgs_features(higgs_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from hepml.features import FeatureSpec
    from hepml.features.files import write_features

    spec = FeatureSpec.from_yaml(SPEC)
    folder = tmp_path_factory.mktemp("features")
    out = []
    for label, process in ((1, "signal"), (0, "background")):
        path = folder / f"{process}.root"
        write_features(spec, str(higgs_files[process]), path, label=label, step_size=1500)
        out.append(path)
    return out


@pytest.fixture(scope="session")
def dnn_bundle(higgs_features: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A quickly trained 3-fold DNN bundle on all 28 HIGGS features."""
    from hepml.features import FeatureSpec
    from hepml.features.files import feature_sources, read_features
    from hepml.tasks.higgs.train import train_kfold

    spec = FeatureSpec.from_yaml(SPEC)
    table = read_features(higgs_features, spec.groups["all"], spec.event_id)
    out = tmp_path_factory.mktemp("bundles") / "dnn_all"
    train_kfold(table, out, model="dnn", k=3, seed=3, model_config={"epochs": 3, "units": 32, "layers": 2},
                calibration="isotonic", spec_config=spec.config, inputs=[str(p) for p in higgs_features],
                training_data=feature_sources(higgs_features))
    return out


def leftovers(folder: Path) -> list[str]:
    """Files in ``folder`` that a failed write may have left (temporaries included)."""
    return sorted(p.name for p in Path(folder).iterdir())


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def hepml(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``hepml ARGS`` in a fresh process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "hepml.cli", *args], capture_output=True, text=True, cwd=cwd)


def one_line_error(out: subprocess.CompletedProcess[str], *fragments: str, status: int = 1) -> str:
    """The refusal: exit ``status``, one ``hepml ...`` line on stderr holding every fragment, no traceback."""
    assert out.returncode == status, out.stdout + out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("hepml ")]
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def copy(src: str | Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    return dst


def rehash(folder: Path) -> Path:
    """Recompute ``folder/bundle.json``'s integrity record for its present files and keys."""
    import json

    from hepml.bundle import fields_digest, file_hash

    info = json.loads((folder / "bundle.json").read_text())
    info.pop("integrity", None)
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != "bundle.json"
                   and not p.name.startswith("."))
    info["integrity"] = {"files": {n: file_hash(folder / n) for n in files}, "keys": fields_digest(info)}
    (folder / "bundle.json").write_text(json.dumps(info))
    return folder
