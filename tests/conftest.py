"""Shared fixtures: real public ntuples (scikit-hep-testdata) and small generated HIGGS samples."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "workflows" / "config" / "higgs_features.yaml"


def data_path(name: str) -> str:
    skhep_testdata = pytest.importorskip("skhep_testdata")
    return str(skhep_testdata.data_path(name))


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
    from hepml.training.kfold import train_kfold

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
