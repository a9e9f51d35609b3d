"""Domain-adversarial training: the reversal layer, the schedules, weights in the domain loss,
save/load without custom code, and a lower domain AUC on a synthetic shift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def test_gradient_reversal_forward_identity_backward_minus_lambda() -> None:
    import tensorflow as tf

    from hepml.models.dann import GradientReversal

    layer = GradientReversal(0.7)
    x = tf.constant(np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32))
    upstream = tf.constant(np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(y * upstream)
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), -0.7 * upstream.numpy(), rtol=1e-6)
    layer.lambda_.assign(0.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x) * upstream)
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), np.zeros((5, 3)))
    assert GradientReversal.from_config(GradientReversal(0.25).get_config()).get_config()["lambda_"] == pytest.approx(
        0.25
    )


def test_schedules_at_known_points() -> None:
    from hepml.models.dann import lambda_schedule, learning_rate_schedule

    assert lambda_schedule(0.0) == pytest.approx(0.0)
    assert lambda_schedule(0.5) == pytest.approx(2 / (1 + np.exp(-5)) - 1)  # 0.98661
    assert lambda_schedule(1.0) == pytest.approx(2 / (1 + np.exp(-10)) - 1)  # 0.99991
    assert learning_rate_schedule(0.0, 0.01) == pytest.approx(0.01)
    assert learning_rate_schedule(1.0, 0.01) == pytest.approx(0.01 / 11**0.75)


def _domains(n: int, shift: float, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    ys = rng.integers(0, 2, n).astype(np.float32)
    xs = rng.normal(size=(n, 4)) + ys[:, None] * np.array([1.0, 0.5, 0.0, 0.0])
    yt = rng.integers(0, 2, n).astype(np.float32)
    xt = rng.normal(size=(n, 4)) + yt[:, None] * np.array([1.0, 0.5, 0.0, 0.0])
    xt[:, 2] += shift  # a feature that only tells the domains apart
    return xs.astype(np.float32), ys, xt.astype(np.float32), yt


def test_zero_weighted_events_change_nothing() -> None:
    """One training step with and without extra zero-weighted events gives identical weights."""
    import keras

    from hepml.models.dann import DannConfig, build_dann_dense, dann_arrays, fit_dann_dense
    from hepml.models.dense import DenseConfig

    xs, ys, xt, _ = _domains(256, 2.0, 0)
    config, dann = DenseConfig(layers=1, units=8, dropout=0.0), DannConfig()
    ws, wt = np.ones(256), np.ones(256)
    junk = np.random.default_rng(9).normal(size=(32, 4)).astype(np.float32) * 50
    after = []
    for target, weights in ((xt, wt), (np.concatenate([xt, junk]), np.r_[wt, np.zeros(32)])):
        x, y, w = dann_arrays(xs, ys, ws, target, weights, config)
        keras.utils.set_random_seed(1)
        model, _ = build_dann_dense(4, config, dann, x[w["domain"] != 0])
        model.get_layer("gradient_reversal").lambda_.assign(1.0)
        model.train_on_batch(x, y, sample_weight=w)
        after.append([np.asarray(v) for v in model.get_weights()])
    for a, b in zip(*after):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="zero total weight"):
        fit_dann_dense(xs, ys, ws, xt, np.zeros(256), config, dann)


def test_domain_weights_balance_and_keep_signs() -> None:
    from hepml.models.dann import domain_weights

    w = domain_weights(np.array([1.0, -1.0, 2.0]), np.array([3.0, 3.0]))
    assert w[:3].sum() == pytest.approx(2.5) and w[3:].sum() == pytest.approx(2.5)
    assert w[1] < 0


def test_dann_lowers_domain_auc_and_reloads_without_custom_code(tmp_path: Path) -> None:
    import keras

    from hepml.models.dann import DannConfig, fit_dann_dense
    from hepml.models.dense import DenseConfig, fit_dense, hidden_features, predict
    from hepml.tasks.dann.study import domain_auc

    xs, ys, xt, _ = _domains(3000, 3.0, 1)
    config = DenseConfig(layers=2, units=16, epochs=12, batch_size=128, dropout=0.0, patience=20)
    w = np.ones(3000)
    plain, _ = fit_dense(xs, ys, w, xs[:300], ys[:300], w[:300], config, seed=0)
    _, dann, log = fit_dann_dense(xs, ys, w, xt, w, config, DannConfig(), seed=0)
    before = domain_auc(hidden_features(plain, xs), hidden_features(plain, xt))
    after = domain_auc(hidden_features(dann, xs), hidden_features(dann, xt))
    assert before > 0.9 and after < before - 0.03  # measured here: 0.97 -> 0.93 (a boosted-tree probe is strict)
    assert log["lambda"][0] < log["lambda"][-1] and "domain_loss" in log and "task_loss" in log
    dann.save(tmp_path / "task.keras")
    again = keras.saving.load_model(tmp_path / "task.keras", safe_mode=True)  # no GradientReversal inside
    assert not any(type(layer).__name__ == "GradientReversal" for layer in again.layers)
    np.testing.assert_allclose(predict(again, xt), predict(dann, xt), atol=1e-6)


def test_warm_start_begins_at_the_source_only_network() -> None:
    """With warm_start the DANN task network starts as the given network, standardisation
    included: after a step with a vanishing learning rate it scores as that network does."""
    from hepml.models.dann import DannConfig, fit_dann_dense
    from hepml.models.dense import DenseConfig, build_dense, predict

    rng = np.random.default_rng(3)
    xs, xt = rng.normal(5, 2, (400, 4)), rng.normal(6, 2, (400, 4))
    ys = (xs[:, 0] > 5).astype(np.float32)
    config = DenseConfig(layers=2, units=8, epochs=1, batch_size=800, learning_rate=1e-12)
    initial = build_dense(4, config, xs[:200])  # a standardisation unlike the one DANN would adapt
    _, warm, _ = fit_dann_dense(xs, ys, np.ones(400), xt, np.ones(400), config, DannConfig(), initial=initial)
    np.testing.assert_allclose(predict(warm, xs), predict(initial, xs), atol=1e-6)
    _, cold, _ = fit_dann_dense(xs, ys, np.ones(400), xt, np.ones(400), config, DannConfig())
    assert np.max(np.abs(predict(cold, xs) - predict(initial, xs))) > 1e-3


def test_domain_probes_read_the_same_layer_in_every_dense_network() -> None:
    """Source-only, oracle and DANN networks share one trunk; the probes read its last activation."""
    from hepml.models.dann import DannConfig, build_dann_dense
    from hepml.models.dense import DenseConfig, build_dense, hidden_features, representation_layer

    x = np.random.default_rng(2).normal(size=(64, 4)).astype(np.float32)
    config = DenseConfig(layers=3, units=8)
    plain = build_dense(4, config, x)
    _, dann_task = build_dann_dense(4, config, DannConfig(), x)
    for model in (plain, dann_task):
        assert representation_layer(model).name == "act_2"
        assert hidden_features(model, x).min() >= 0  # after the ReLU, not before it
    assert [layer.name for layer in plain.layers[:-1]] == [layer.name for layer in dann_task.layers[:-1]]


def test_dann_higgs_side_by_side_end_to_end(higgs_features: list[Path], tmp_path: Path) -> None:
    """Pseudo-data from a shifted detector; source-only, DANN and oracle; the DANN bundle scores
    files through the ordinary Scorer (no domain head, no custom code)."""
    import json

    import uproot

    from hepml.cli import main
    from hepml.features import FeatureSpec
    from hepml.features.files import write_features
    from hepml.scoring import Scorer
    from hepml.simulate.higgs import DetectorModel, write_ntuple

    from conftest import SPEC

    shifted = DetectorModel(jet_energy_scale=0.85, system_pt_scale=1.5, btag_efficiency=0.6)
    spec = FeatureSpec.from_yaml(SPEC)
    target = []
    for label, process, first in ((1, "signal", 5 * 10**9), (0, "background", 6 * 10**9)):
        write_ntuple(tmp_path / f"{process}.root", process, 3000, seed=21, detector=shifted, first_event=first)
        write_features(spec, str(tmp_path / f"{process}.root"), tmp_path / f"f_{process}.root", label=label)
        target.append(str(tmp_path / f"f_{process}.root"))
    out = tmp_path / "dann"
    code = main(
        [
            "dann-higgs",
            "--source",
            *map(str, higgs_features),
            "--target",
            *target,
            "--spec",
            str(SPEC),
            "--group",
            "all",
            "--dnn-config",
            '{"epochs": 3, "units": 32, "layers": 2}',
            "--seed",
            "2",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("source_only", "dann", "no_adversary", "oracle"):
        assert 0.5 < metrics["target"][key] < 1
    assert set(metrics["source"]) >= {"source_only", "dann"} and set(metrics["domain_auc"]) == {
        "source_only",
        "dann",
        "no_adversary",
    }
    gap = metrics["target"]["oracle"] - metrics["target"]["source_only"]
    assert (metrics["gap_closed"] is None) == (gap <= 0)
    if gap > 0:
        assert metrics["gap_closed"] == pytest.approx(
            (metrics["target"]["dann"] - metrics["target"]["source_only"]) / gap
        )
    assert (out / "plots" / "dann_scores.png").exists() and (out / "plots" / "dann_training.pdf").exists()
    scorer = Scorer(out / "bundle")
    arrays = uproot.open(tmp_path / "signal.root")["Events"].arrays(scorer.branches)
    scores = scorer(arrays)["score"]
    assert scores.shape == (3000,) and np.all((scores >= 0) & (scores <= 1))


def test_dann_starts_at_the_scaled_rate_and_refuses_a_schedule_it_would_override(
    higgs_features: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ganin's annealing starts at the dense settings' peak rate, batch scaling included (as the
    source-only network beside it); a warm-up or decay, which the annealing would silently replace,
    and augment, which its fits would not follow, stop the study before any network trains, with
    one line and no output."""
    from hepml.cli import main
    from hepml.models.dann import dann_peak_rate
    from hepml.models.dense import REFERENCE_BATCH, DenseConfig

    from conftest import SPEC

    scaled = DenseConfig(learning_rate=1e-3, batch_size=4 * REFERENCE_BATCH, batch_scaling="linear")
    assert dann_peak_rate(scaled) == pytest.approx(4e-3)
    assert dann_peak_rate(DenseConfig()) == DenseConfig().learning_rate
    schedule = "dnn.warmup_epochs / dnn.decay: a DANN network's learning rate follows Ganin's annealing"
    for dnn, message in (('{"decay": "cosine"}', schedule), ('{"warmup_epochs": 1}', schedule),
                         ('{"augment": true}', "dnn.augment: the DANN study trains its networks on the events as "
                                               "given")):
        code = main(["dann-higgs", "--source", *map(str, higgs_features), "--target", *map(str, higgs_features),
                     "--spec", str(SPEC), "--dnn-config", dnn, "--out", str(tmp_path / "dann")])
        err = capsys.readouterr().err.strip()
        assert code == 1 and len(err.splitlines()) == 1, err
        assert message in err
        assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_image_batches_mix_domains_and_carry_event_weights() -> None:
    from hepml.models.dann import dann_image_batch

    rng = np.random.default_rng(0)
    qs, qt = rng.random((3, 3, 8, 8), np.float32), rng.random((2, 3, 8, 8), np.float32)
    ys = rng.integers(0, 3, (3, 3, 8, 8)).astype(np.int32)
    pw = rng.random((3, 3, 8, 8)).astype(np.float32)
    x, y, w = dann_image_batch(qs, ys, pw, qt, np.array([1.0, 2.0, -1.0]), np.array([1.0, 3.0]))
    assert x.shape == (5, 3, 8, 8) and y["domain"].shape == (5, 3, 1, 1, 1) and w["domain"].shape == (5, 3, 1, 1)
    np.testing.assert_array_equal(y["domain"][:, 0, 0, 0, 0], [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(w["task"][3:], 0)  # target images never enter the task loss
    np.testing.assert_array_equal(w["task"][:3], pw)
    dw = w["domain"][:, 0, 0, 0]
    assert dw[:3].sum() == pytest.approx(2.5) and dw[3:].sum() == pytest.approx(2.5)  # balanced domains
    assert dw[1] == pytest.approx(2 * dw[0]) and dw[2] < 0 and dw[4] == pytest.approx(3 * dw[3])


def _strip_labels(source: Path, out: Path) -> None:
    """A copy of an event file without its truth branch: what real data looks like."""
    import awkward as ak
    import uproot

    from hepml.io.write import write_friend

    arrays = uproot.open(source)["Events"].arrays(["event", "Pixel_plane", "Pixel_wire", "Pixel_tick", "Pixel_charge"])
    pixels = ak.zip({k: arrays[f"Pixel_{k}"] for k in ("plane", "wire", "tick", "charge")})
    write_friend(out, iter([{"event": arrays["event"], "Pixel": pixels}]), tree="Events", expected_entries=len(arrays))


def test_uresnet_dann_trains_on_unlabelled_target_and_reloads_plainly(tmp_path: Path) -> None:
    """The target has no label branch at all; the bundle holds the task network only (no reversal,
    no domain head), reloads with safe_mode and scores like the network that was trained."""
    import json

    import keras
    import uproot

    from hepml.io.images import iter_images
    from hepml.simulate.lartpc import Geometry, LArTPCConfig, write_events
    from hepml.tasks.cosmic.score import load_segmenter
    from hepml.tasks.cosmic.score import predict_pixels as _predict
    from hepml.tasks.cosmic.train import train_segmentation

    geometry = Geometry(wires=32, ticks=32)
    write_events(tmp_path / "sim.root", 40, seed=1, geometry=geometry, config=LArTPCConfig(cosmic_mean=2))
    write_events(
        tmp_path / "data_truth.root",
        30,
        seed=2,
        geometry=geometry,
        first_event=1000,
        config=LArTPCConfig(cosmic_mean=2, gain=0.6, noise=0.1, dead_wire_fraction=0.1),
    )
    _strip_labels(tmp_path / "data_truth.root", tmp_path / "data.root")
    assert "Pixel_label" not in uproot.open(tmp_path / "data.root")["Events"].keys()
    out = tmp_path / "bundle"
    info = train_segmentation(
        [str(tmp_path / "sim.root")],
        out,
        shape=(3, 32, 32),
        seed=3,
        model_config={"depth": 2, "filters": 4, "epochs": 2},
        target=[str(tmp_path / "data.root")],
        dann_config={"domain_units": 8},
    )
    assert info["model"] == "uresnet-dann" and info["provenance"]["config"]["dann"]["domain_units"] == 8
    history = json.loads((out / "history.json").read_text())
    assert {"task_loss", "domain_loss", "lambda", "learning_rate"} <= set(history)
    assert history["lambda"][0] < history["lambda"][-1] and history["learning_rate"][0] > history["learning_rate"][-1]
    model, _ = load_segmenter(out)
    names = [type(layer).__name__ for layer in model.layers]
    assert "GradientReversal" not in names and not any(layer.name.startswith("domain") for layer in model.layers)
    charge = next(iter_images([str(tmp_path / "data.root")], (3, 32, 32), labels=False))[0]
    again = keras.saving.load_model(out / "model.keras", safe_mode=True, compile=False)
    np.testing.assert_allclose(_predict(again, charge), _predict(model, charge), atol=1e-6)


def test_uresnet_warm_start_begins_at_the_given_network(tmp_path: Path) -> None:
    """``initial`` (the study's dann.warm_start) starts the DANN UResNet from a trained network:
    after an epoch at a vanishing learning rate its weights are still that network's; a network of
    another architecture, a warm start without its network and one without target files are refused."""
    from hepml.errors import ConfigError
    from hepml.simulate.lartpc import Geometry, LArTPCConfig, write_events
    from hepml.tasks.cosmic.score import load_segmenter
    from hepml.tasks.cosmic.train import train_segmentation

    geometry, shape = Geometry(wires=32, ticks=32), (3, 32, 32)
    sim, data = str(tmp_path / "sim.root"), str(tmp_path / "data.root")
    write_events(sim, 30, seed=1, geometry=geometry, config=LArTPCConfig(cosmic_mean=2))
    write_events(data, 30, seed=2, geometry=geometry, first_event=1000, config=LArTPCConfig(cosmic_mean=2, gain=0.6))
    small = {"depth": 2, "filters": 4, "epochs": 1}
    train_segmentation([sim], tmp_path / "source_only", shape=shape, model_config=small, seed=1)
    frozen = {**small, "learning_rate": 1e-12}

    def weights(bundle: Path) -> list[np.ndarray]:
        return [np.asarray(w) for w in load_segmenter(bundle)[0].trainable_weights]

    info = train_segmentation([sim], tmp_path / "warm", shape=shape, model_config=frozen, seed=2, target=[data],
                              dann_config={"warm_start": True}, initial=tmp_path / "source_only")
    assert info["provenance"]["config"]["dann"]["warm_start"] is True
    for warm, initial in zip(weights(tmp_path / "warm"), weights(tmp_path / "source_only"), strict=True):
        np.testing.assert_allclose(warm, initial, atol=1e-6)
    train_segmentation([sim], tmp_path / "cold", shape=shape, model_config=frozen, seed=2, target=[data])
    assert max(np.max(np.abs(c - i)) for c, i in zip(weights(tmp_path / "cold"), weights(tmp_path / "source_only"),
                                                     strict=True)) > 1e-3
    with pytest.raises(ConfigError, match="source_only: a warm start needs a network of the same shape and "
                                          "architecture"):
        train_segmentation([sim], tmp_path / "b", shape=shape, model_config={**small, "filters": 8}, target=[data],
                           initial=tmp_path / "source_only")
    with pytest.raises(ConfigError, match="dann.warm_start: give the source-only bundle"):
        train_segmentation([sim], tmp_path / "b", shape=shape, model_config=small, target=[data],
                           dann_config={"warm_start": True})
    with pytest.raises(ConfigError, match="a warm start of DANN training; give the target files too"):
        train_segmentation([sim], tmp_path / "b", shape=shape, model_config=small, initial=tmp_path / "source_only")
    assert not (tmp_path / "b").exists()


def test_dann_lartpc_side_by_side_end_to_end(tmp_path: Path) -> None:
    """Three UResNets on tiny pseudo-data; the metrics have every key the issue asks for."""
    import json

    from hepml.bundle import file_hash
    from hepml.cli import main
    from hepml.simulate.lartpc import Geometry, LArTPCConfig, write_events

    geometry = Geometry(wires=32, ticks=32)
    files = {}
    for i, (domain, sample, n) in enumerate(
        (("source", "train", 40), ("source", "test", 24), ("target", "train", 40), ("target", "test", 24))
    ):
        config = LArTPCConfig(cosmic_mean=2, **({"gain": 0.6, "noise": 0.1} if domain == "target" else {}))
        files[f"{domain}_{sample}"] = str(tmp_path / f"{domain}_{sample}.root")
        write_events(
            files[f"{domain}_{sample}"], n, seed=10 + i, geometry=geometry, config=config, first_event=1000 * i
        )
    out = tmp_path / "run"
    code = main(
        [
            "dann-lartpc",
            "--source-train",
            files["source_train"],
            "--source-test",
            files["source_test"],
            "--target-train",
            files["target_train"],
            "--target-test",
            files["target_test"],
            "--shape",
            "3,32,32",
            "--model-config",
            '{"depth": 2, "filters": 4, "epochs": 1}',
            "--dann-config",
            '{"warm_start": true}',
            "--seed",
            "1",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for domain in ("source", "target"):
        for model in ("source_only", "dann", "no_adversary", "oracle"):
            assert 0 <= metrics[domain][model] <= 1
            assert set(metrics["iou"][model][domain]) == {"background", "cosmic", "neutrino"}
    assert set(metrics["domain_auc"]) == {"source_only", "dann", "no_adversary"} and "gap_closed" in metrics
    assert (out / "plots" / "dann_scores.png").exists() and (out / "bundle" / "model.keras").exists()
    start = file_hash(out / "source_only" / "model.keras")
    for model in ("bundle", "no_adversary"):  # warm-started from the source-only network, which the provenance names
        provenance = json.loads((out / model / "bundle.json").read_text())["provenance"]
        assert provenance["config"]["dann"]["warm_start"]
        assert [h for name, h in provenance["inputs"].items() if name.endswith("source_only/model.keras")] == [start]
    assert not list(tmp_path.glob(".*tmp*")) and not list(out.glob(".*tmp*"))


def test_gap_closed_known_cases() -> None:
    from hepml.tasks.dann.study import gap_closed

    assert gap_closed(0.70, 0.75, 0.80) == pytest.approx(0.5)
    assert gap_closed(0.70, 0.68, 0.80) == pytest.approx(-0.2)  # DANN worse than source-only
    assert gap_closed(0.70, 0.75, 0.70) is None  # no gap: the ratio means nothing
    assert gap_closed(0.70, 0.75, 0.65) is None
    assert gap_closed(0.70, 0.75, 0.80, gap_std=0.04) == pytest.approx(0.5)
    assert gap_closed(0.70, 0.75, 0.80, gap_std=0.06) is None  # a gap within twice its uncertainty


def test_seeds_merge_into_mean_and_spread_per_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """dann-merge nests STUDY/SEED parts, keeps every seed and summarises each number over seeds:
    mean, spread (ddof=1), how many seeds have it (a null gap is left out), gap closed of the means."""
    import json

    from hepml.cli import main
    from hepml.tasks.dann.study import gap_closed

    runs = {
        "higgs/jes/1": {"gap": 0.10,
                        "target": {"source_only": 0.70, "dann": 0.76, "no_adversary": 0.71, "oracle": 0.80},
                        "gap_closed": 0.6,
                        "source_auc_change": -0.004, "events": {"source_test": 10}},
        "higgs/jes/2": {"gap": 0.10,
                        "target": {"source_only": 0.72, "dann": 0.74, "no_adversary": 0.73, "oracle": 0.82},
                        "gap_closed": 0.2,
                        "source_auc_change": 0.002, "events": {"source_test": 10}},
        "higgs/jes/3": {"gap": 0.09,
                        "target": {"source_only": 0.71, "dann": 0.72, "no_adversary": 0.74, "oracle": 0.80},
                        "gap_closed": None,
                        "source_auc_change": -0.001, "events": {"source_test": 10}},
        # a mean gap within its standard error over seeds: no gap closed of the means
        "higgs/pileup/1": {"target": {"source_only": 0.780, "dann": 0.776, "oracle": 0.781}, "gap": 0.001},
        "higgs/pileup/2": {"target": {"source_only": 0.780, "dann": 0.777, "oracle": 0.7795}, "gap": -0.0005},
        "lartpc/1": {"target": {"source_only": 0.5, "dann": 0.4, "oracle": 0.45}, "gap_closed": None},
    }
    parts = []
    for key, metrics in runs.items():
        path = tmp_path / (key.replace("/", "_") + ".json")
        path.write_text(json.dumps(metrics))
        parts.append(f"{key}={path}")
    out = tmp_path / "metrics.json"
    about = json.dumps({"higgs/jes": {"target_detector": {"jet_energy_scale": 0.8}}})
    assert main(["dann-merge", *parts, "--about", about, "--out", str(out), "--plots", str(tmp_path / "plots")]) == 0
    for figure in ("dann_suite", "dann_lartpc_seeds"):
        assert (tmp_path / "plots" / f"{figure}.png").stat().st_size > 1000
    merged = json.loads(out.read_text())
    jes = merged["higgs"]["jes"]
    assert jes["target_detector"] == {"jet_energy_scale": 0.8} and set(jes["seeds"]) == {"1", "2", "3"}
    summary = jes["summary"]
    assert summary["seeds"] == 3 and "events.source_test" not in summary
    dann = [0.76, 0.74, 0.72]
    assert summary["target.dann"] == {"mean": pytest.approx(np.mean(dann)), "std": pytest.approx(np.std(dann, ddof=1)),
                                      "n": 3}
    assert summary["gap_closed"] == {"mean": pytest.approx(0.4), "std": pytest.approx(np.std([0.6, 0.2], ddof=1)),
                                     "n": 2}
    assert summary["gap_closed_of_means"] == pytest.approx(gap_closed(0.71, 0.74, np.mean([0.80, 0.82, 0.80])))
    # the control's share, to read DANN's against (0.17 here; a warm start can make it large)
    assert summary["control_gap_closed_of_means"] == pytest.approx(gap_closed(0.71, 0.7266667, 0.8066667), rel=1e-5)
    assert merged["higgs"]["pileup"]["summary"]["gap_closed_of_means"] is None
    lartpc = merged["lartpc"]["summary"]
    assert lartpc["seeds"] == 1 and lartpc["target.dann"]["std"] is None  # one seed: no spread
    assert "gap_closed" not in lartpc and lartpc["gap_closed_of_means"] is None  # the oracle is worse
    assert lartpc["control_gap_closed_of_means"] is None  # no control in this run
    printed = capsys.readouterr().out
    assert "higgs/jes: 3 seed(s), gap closed (of the means) 0.31, by the control (lambda = 0) 0.17" in printed
    for part in (f"higgs={tmp_path / 'higgs_jes_1.json'}", str(tmp_path / "higgs_jes_1.json")):
        assert main(["dann-merge", part, "--out", str(tmp_path / "bad.json")]) == 1
        assert "is not STUDY/SEED=metrics.json" in capsys.readouterr().err
    twice = [f"higgs/jes/1={tmp_path / 'higgs_jes_1.json'}", f"higgs/jes/1={tmp_path / 'higgs_jes_2.json'}"]
    assert main(["dann-merge", *twice, "--out", str(tmp_path / "bad.json")]) == 1
    assert "'higgs/jes/1' is given twice" in capsys.readouterr().err  # not one run silently dropped
    assert not (tmp_path / "bad.json").exists()


def test_uresnet_dann_refuses_a_target_it_cannot_use(tmp_path: Path) -> None:
    """Bad target files fail before training, with a plain one-line error, and leave no bundle."""
    import uproot

    from hepml.errors import EmptyInputError, MissingBranchError
    from hepml.simulate.lartpc import Geometry, LArTPCConfig, write_events
    from hepml.tasks.cosmic.train import train_segmentation

    geometry, config = Geometry(wires=16, ticks=16), LArTPCConfig(cosmic_mean=1)
    write_events(tmp_path / "sim.root", 20, seed=1, geometry=geometry, config=config)
    write_events(tmp_path / "few.root", 5, seed=2, geometry=geometry, config=config, first_event=1)  # events 1..5
    with uproot.recreate(tmp_path / "nopixels.root") as f:
        f["Events"] = {"event": np.arange(30, dtype=np.int64)}
    common = {"shape": (3, 16, 16), "model_config": {"depth": 1, "filters": 2, "epochs": 1}}
    out = tmp_path / "bundle"
    with pytest.raises(EmptyInputError, match=r"few\.root: no target events for the validation set"):
        train_segmentation([str(tmp_path / "sim.root")], out, target=[str(tmp_path / "few.root")], **common)
    with pytest.raises(MissingBranchError, match=r"nopixels\.root:Events: no branch 'Pixel_plane'"):
        train_segmentation([str(tmp_path / "sim.root")], out, target=[str(tmp_path / "nopixels.root")], **common)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["few.root", "nopixels.root", "sim.root"]
