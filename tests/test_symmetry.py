"""Training on the events' symmetries (dnn: {augment: true}): the transformation keeps every
event's physics, the spec's declaration is checked, and a fold job trains and saves through it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from hepml.errors import ConfigError
from hepml.features import FeatureSpec
from hepml.features.symmetries import SymmetryColumns

from conftest import SPEC, hepml, one_line_error

# columns: pt1, eta1, phi1, pt2, eta2, phi2, btag
AZIMUTH, RAPIDITY, N = (2, 5), (1, 4), 7


def _events(rng: np.random.Generator, n: int = 20_000) -> np.ndarray:
    x = np.empty((n, N), np.float32)
    x[:, [0, 3]] = rng.exponential(50.0, (n, 2)) + 20.0
    x[:, list(RAPIDITY)] = rng.uniform(-2.5, 2.5, (n, 2))
    x[:, list(AZIMUTH)] = rng.uniform(-np.pi, np.pi, (n, 2))
    x[:, 6] = rng.uniform(0.0, 1.0, n)
    return x


def _transform(x: np.ndarray, training: bool, seed: int = 1) -> np.ndarray:
    import keras

    from hepml.models.symmetry import SymmetryAugmentation

    layer = SymmetryAugmentation(N, AZIMUTH, RAPIDITY, seed=seed)
    return np.asarray(keras.ops.convert_to_numpy(layer(x, training=training)))


def _pair_mass_squared(x: np.ndarray) -> np.ndarray:
    """Of two massless objects, by hand: 2 pT1 pT2 (cosh(d eta) - cos(d phi))."""
    x = x.astype(np.float64)
    return 2 * x[:, 0] * x[:, 3] * (np.cosh(x[:, 1] - x[:, 4]) - np.cos(x[:, 2] - x[:, 5]))


def test_inference_sees_the_events_unchanged(rng: np.random.Generator) -> None:
    x = _events(rng)
    assert np.array_equal(_transform(x, training=False), x)


def test_each_event_is_rotated_mirrored_and_flipped_as_a_whole(rng: np.random.Generator) -> None:
    x = _events(rng)
    t = _transform(x, training=True)
    untouched = [i for i in range(N) if i not in AZIMUTH + RAPIDITY]
    assert np.array_equal(t[:, untouched], x[:, untouched])
    assert np.all(np.abs(t[:, list(AZIMUTH)]) <= np.pi + 1e-6)
    # the invariant mass of the pair, by hand, is the same event by event
    np.testing.assert_allclose(_pair_mass_squared(t), _pair_mass_squared(x), rtol=2e-4, atol=1e-2)
    # one angle per event: the angle between the two objects keeps its cosine; the mirror flips its sine
    np.testing.assert_allclose(np.cos(t[:, 2] - t[:, 5]), np.cos(x[:, 2] - x[:, 5]), atol=2e-5)
    mirrored = np.sign(np.sin(t[:, 2] - t[:, 5])) != np.sign(np.sin(x[:, 2] - x[:, 5]))
    # one beam exchange per event: both pseudorapidities flip together, half of the events
    flipped = np.sign(t[:, 1]) != np.sign(x[:, 1])
    assert np.array_equal(np.sign(t[:, 4]) != np.sign(x[:, 4]), flipped)
    np.testing.assert_array_equal(np.abs(t[:, list(RAPIDITY)]), np.abs(x[:, list(RAPIDITY)]))
    for fraction in (mirrored.mean(), flipped.mean()):
        assert 0.47 < fraction < 0.53
    # the rotations cover the circle: the first angle's change is uniform, not a few fixed turns
    turn = np.angle(np.exp(1j * (t[:, 2] * np.where(mirrored, -1, 1) - x[:, 2])))
    counts, _ = np.histogram(turn, bins=8, range=(-np.pi, np.pi))
    assert counts.min() > 0.85 * len(x) / 8
    assert not np.array_equal(_transform(x, training=True, seed=2), t)  # and differ with the seed


def test_an_angle_outside_the_circle_is_a_fill_value_and_stays(rng: np.random.Generator) -> None:
    x = _events(rng, 1000)
    x[::2, 5] = -999.0  # the second object is missing in every other event
    t = _transform(x, training=True)
    assert np.all(t[::2, 5] == -999.0) and np.all(np.abs(t[1::2, 5]) <= np.pi + 1e-6)


def _spec(symmetries: object) -> dict[str, object]:
    config = yaml.safe_load(SPEC.read_text())
    return {**config, "symmetries": symmetries}


@pytest.mark.parametrize(("symmetries", "fragments"), [
    ({"azimuth": ["lepton_ph"]}, ["symmetries.azimuth", "'lepton_ph'", "lepton_phi"]),
    ({"azimuth": ["met_phi"], "rapidity": ["met_phi"]}, ["'met_phi'", "both"]),
    ({"azimut": ["met_phi"]}, ["symmetries", "'azimut'", "azimuth"]),
])
def test_a_wrong_declaration_is_refused(symmetries: object, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        FeatureSpec(_spec(symmetries), origin="spec.yaml")
    for fragment in ["spec.yaml", *fragments]:
        assert fragment in str(err.value)


def test_the_spec_gives_each_group_its_columns() -> None:
    spec = FeatureSpec.from_yaml(SPEC)
    low = spec.symmetries.columns(spec.groups["low"])
    jets = [f"jet{j}_phi" for j in range(1, 5)]
    assert [spec.groups["low"][i] for i in low.azimuth] == ["lepton_phi", "met_phi", *jets]
    assert len(low.rapidity) == 5
    assert not spec.symmetries.columns(spec.groups["high"])  # masses: nothing to transform
    assert spec.symmetries.columns(spec.groups["all"]) == low  # the low-level columns come first


def test_a_fold_job_trains_through_the_symmetries(higgs_features: list[Path], tmp_path: Path) -> None:
    """``hepml train-fold`` with augment: true: the job says what it transforms, the saved network
    is the plain one behind the layer (it loads compiled and scores as the job did), and its settings say so."""
    import keras

    from hepml.models.symmetry import SymmetryAugmentation

    config = '{"epochs": 2, "units": 16, "layers": 2, "size_rule": "off", "batch_size": 256, "augment": true}'
    out = hepml("train-fold", *map(str, higgs_features), "--spec", str(SPEC), "--group", "low", "--fold", "0",
                "--model-config", config, "--out", str(tmp_path / "fold0"))
    assert out.returncode == 0, out.stderr
    assert "augment: rotating 6 azimuthal and flipping 5 rapidity columns" in out.stderr
    fold = json.loads((tmp_path / "fold0" / "fold.json").read_text())
    assert fold["settings"]["augment"] is True
    model = keras.saving.load_model(tmp_path / "fold0" / "fold0.keras", compile=True)
    assert not any(isinstance(layer, SymmetryAugmentation) for layer in model.layers)
    assert model.optimizer.iterations.numpy() > 0  # the optimiser that trained it came with it
    from hepml.features.files import read_features
    from hepml.models.dense import predict

    spec = FeatureSpec.from_yaml(SPEC)
    table = read_features(higgs_features, spec.groups["low"], spec.event_id)
    with np.load(tmp_path / "fold0" / "scores.npz") as saved:
        rows = np.isin(table.event_id["fold_key"], saved["event"])
        assert np.array_equal(table.event_id["fold_key"][rows], saved["event"])
        np.testing.assert_allclose(predict(model, table.X[rows]), saved["raw"], atol=1e-6)


def test_augment_without_declared_symmetries_is_refused_before_training(higgs_features: list[Path],
                                                                        tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({k: v for k, v in yaml.safe_load(SPEC.read_text()).items() if k != "symmetries"}))
    out = hepml("train-fold", *map(str, higgs_features), "--spec", str(spec), "--fold", "0",
                "--model-config", '{"epochs": 1, "units": 8, "layers": 1, "augment": true}',
                "--out", str(tmp_path / "fold0"))
    one_line_error(out, "augment", "symmetries")
    assert not (tmp_path / "fold0").exists()


def test_the_columns_of_no_symmetry_are_false() -> None:
    assert not SymmetryColumns() and SymmetryColumns(azimuth=(0,))
