"""LArTPC cosmic removal: projection geometry, label bookkeeping, sparse <-> dense, the UResNet,
and per-pixel write-back alignment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from hepml.errors import HepmlError
from hepml.io.images import PIXEL_BRANCHES, densify, gather, iter_images
from hepml.simulate import lartpc as L

from conftest import leftovers

SMALL = L.Geometry(wires=32, ticks=32)
SHAPE = (3, 32, 32)


def test_projection_of_a_known_point() -> None:
    g = L.Geometry()  # 256 cm cube, 128 wires x 128 ticks
    x, y, z = np.array([100.0]), np.array([10.0]), np.array([50.0])
    wire, tick = L.project(x, y, z, g, 2)  # collection plane: vertical wires, wire number measures z
    assert (wire[0], tick[0]) == (25, 50)  # 50 cm / 2 cm pitch; 100 cm / 2 cm per tick
    lo, hi = g.u_range(0)  # +60 degrees: u = z cos60 + y sin60
    u = 50 * 0.5 + 10 * np.sqrt(3) / 2
    assert wire_of(u, lo, hi, g.wires) == L.project(x, y, z, g, 0)[0][0]
    lo, hi = g.u_range(1)
    u = 50 * 0.5 - 10 * np.sqrt(3) / 2
    assert wire_of(u, lo, hi, g.wires) == L.project(x, y, z, g, 1)[0][0]
    # a point keeps its tick on every plane: one 3D event projects consistently
    assert len({int(L.project(x, y, z, g, p)[1][0]) for p in range(3)}) == 1


def wire_of(u: float, lo: float, hi: float, wires: int) -> int:
    return int(np.floor((u - lo) / ((hi - lo) / wires)))


def test_a_track_along_z_lights_consecutive_collection_wires() -> None:
    g = L.Geometry()
    z = np.linspace(10.0, 100.0, 500)
    wire, tick = L.project(np.full_like(z, 64.0), np.zeros_like(z), z, g, 2)
    assert set(tick) == {32}
    assert sorted(set(wire)) == list(range(5, 51))  # z = 100 cm is the first cm of wire 50


def test_labels_and_charge_bookkeeping() -> None:
    rng = np.random.default_rng(3)
    charge, labels = L.simulate_images(20, SMALL, L.LArTPCConfig(cosmic_mean=3), rng)
    assert charge.shape == labels.shape == (20, *SHAPE)
    assert np.all(labels[charge == 0] == L.BACKGROUND)  # empty pixels are background
    lit = charge > 0
    assert set(np.unique(labels[lit])) <= {0, 1, 2}
    assert (labels[lit] == L.COSMIC).any() and (labels[lit] == L.NEUTRINO).any()
    assert np.mean(labels[lit] == L.BACKGROUND) < 0.05  # only noise pixels above threshold
    sparse = L.to_sparse(charge, labels)
    arrays = {f"Pixel_{k}": sparse[k] for k in ("plane", "wire", "tick", "charge", "label")}
    back_q, back_l = densify(arrays, SHAPE)
    np.testing.assert_array_equal(back_q, charge)  # charge conserved, pixel by pixel
    np.testing.assert_array_equal(back_l, labels)
    assert ak.sum(sparse.charge) == pytest.approx(charge.sum(), rel=1e-5)


def test_overlap_rule_neutrino_wins_ties() -> None:
    g = L.Geometry(wires=8, ticks=8, angles=(0.0,))
    rng = np.random.default_rng(0)
    cfg = L.LArTPCConfig(noise=0.0, threshold=0.0)
    deposits = {"x": np.array([40.0, 40.0]), "y": np.zeros(2), "z": np.array([40.0, 40.0]),
                "charge": np.array([1.0, 1.0]), "label": np.array([L.COSMIC, L.NEUTRINO]), "event": np.zeros(2, int)}
    original = L.generate_deposits
    try:
        L.generate_deposits = lambda n, geometry, config, rng: deposits  # type: ignore[assignment]
        charge, labels = L.simulate_images(1, g, cfg, rng)
    finally:
        L.generate_deposits = original  # type: ignore[assignment]
    wire, tick = L.project(np.array([40.0]), np.zeros(1), np.array([40.0]), g, 0)
    assert charge[0, 0, wire[0], tick[0]] == pytest.approx(2.0)
    assert labels[0, 0, wire[0], tick[0]] == L.NEUTRINO


def test_file_round_trip_and_densify_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "events.root"
    L.write_events(path, 30, seed=5, geometry=SMALL, chunk_size=12)
    expected_q, expected_l = L.simulate_images(12, SMALL, L.LArTPCConfig(), np.random.default_rng([5, 2024]))
    charge, labels, arrays = next(iter_images(str(path), SHAPE, step_size=12))
    np.testing.assert_array_equal(charge, expected_q)
    np.testing.assert_array_equal(labels, expected_l)
    tree = uproot.open(path)["Events"]
    assert tree.num_entries == 30 and set(PIXEL_BRANCHES) <= set(tree.keys())


def test_uresnet_shapes_serialisation_and_overfit(tmp_path: Path) -> None:
    import keras

    from hepml.models.uresnet import UResNetConfig, build_uresnet, class_weights, pixel_weights

    config = UResNetConfig(depth=2, filters=8, learning_rate=5e-3)
    model = build_uresnet(*SHAPE, config)
    charge, labels = L.simulate_images(4, SMALL, L.LArTPCConfig(cosmic_mean=2), np.random.default_rng(1))
    assert model.predict(charge, verbose=0).shape == (4, *SHAPE, 3)
    weights = pixel_weights(labels, charge, class_weights(labels, charge), 0.01)
    keras.utils.set_random_seed(0)
    history = model.fit(charge, labels.astype(np.int32), sample_weight=weights, batch_size=4, epochs=60, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] / 3  # it can learn a handful of events
    predicted = model.predict(charge, verbose=0).argmax(-1)
    lit = charge > 0
    assert np.mean(predicted[lit] == labels[lit]) > 0.8
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(again.predict(charge, verbose=0), model.predict(charge, verbose=0), atol=1e-6)


@pytest.mark.parametrize("growth, filters", [("doubling", [4, 8, 16, 32]), ("additive", [4, 8, 12, 16])])
def test_uresnet_filters_grow_by_level_as_configured(growth: str, filters: list[int]) -> None:
    """Doubling (the demo's), or additive as CosmicTagger grows them for full windows: filters x
    (level + 1), the bottleneck included, the decoder mirroring the encoder."""
    from hepml.models.uresnet import UResNetConfig, build_uresnet

    model = build_uresnet(3, 64, 64, UResNetConfig(depth=3, filters=4, growth=growth))
    assert [model.get_layer(f"enc{level}_0_conv1").filters for level in range(3)] == filters[:3]
    assert [model.get_layer(f"dec{level}_0_conv2").filters for level in range(3)] == filters[:3]
    assert model.get_layer("bottleneck_conv1").filters == filters[3]


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from hepml.tasks.cosmic.train import train_segmentation

    folder = tmp_path_factory.mktemp("cosmic")
    events = folder / "events.root"
    L.write_events(events, 40, seed=9, geometry=SMALL, config=L.LArTPCConfig(cosmic_mean=2))
    # every training lever on: trained on crops, it scores whole windows
    train_segmentation([str(events)], folder / "bundle", shape=SHAPE,
                       model_config={"depth": 2, "filters": 4, "epochs": 2, "crop": 16, "flips": True,
                                     "mirrors": True, "schedule": "cosine", "shuffle": True, "dice": 0.5})
    return folder / "bundle", events


def test_cross_entropy_dice_against_a_hand_computation() -> None:
    from hepml.models.uresnet import CrossEntropyDice

    truth = np.array([[0, 1, 2, 1]])
    p = np.array([[[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1]]], np.float32)
    w = np.array([[0.01, 2.0, 3.0, 2.0]], np.float32)
    cross_entropy = np.mean(w * -np.log([0.7, 0.8, 0.6, 0.4]))
    dice_cosmic = (2 * (0.8 + 0.4) + 1) / (2 + (0.2 + 0.8 + 0.2 + 0.4) + 1)
    dice_neutrino = (2 * 0.6 + 1) / (1 + (0.1 + 0.1 + 0.6 + 0.1) + 1)
    expected = cross_entropy + 0.5 * (2 - dice_cosmic - dice_neutrino) / 2
    assert float(CrossEntropyDice(0.5)(truth, p, w)) == pytest.approx(expected, rel=1e-5)
    assert float(CrossEntropyDice(0.0)(truth, p)) == pytest.approx(np.mean(-np.log([0.7, 0.8, 0.6, 0.4])), rel=1e-5)
    with pytest.raises(ValueError, match="uresnet.dice: -1.0 is out of range; it must be >= 0"):
        from hepml.models.uresnet import UResNetConfig

        UResNetConfig(dice=-1.0)


def test_shuffle_reorders_the_training_windows_only(segmenter: tuple[Path, Path]) -> None:
    from hepml.tasks.cosmic.train import _batches

    _, events = segmenter
    weights = np.ones(3)

    def epoch(validation: bool, shuffle: np.random.Generator | None) -> np.ndarray:
        return np.concatenate([q for q, _, _ in _batches([str(events)], SHAPE, 4, validation, weights, 0.01,
                                                         shuffle=shuffle)])

    plain, rng = epoch(False, None), np.random.default_rng(0)
    first, second = epoch(False, rng), epoch(False, rng)
    assert not np.array_equal(first, plain) and not np.array_equal(first, second)  # a new order every epoch
    def windows(a: np.ndarray) -> list[bytes]:
        return sorted(x.tobytes() for x in a)

    assert windows(first) == windows(plain) == windows(second)  # of the same windows
    np.testing.assert_array_equal(epoch(True, rng), epoch(True, None))  # validation in file order


def test_reader_threads_make_the_same_batches(segmenter: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Densifying and weighting in several threads (a GPU node's training stream) gives the
    batches of one thread, in the same order, with the random views and shuffles drawn alike."""
    from hepml.models.augment import augment
    from hepml.tasks.cosmic import train

    _, events = segmenter
    monkeypatch.setattr(train, "_chunk", lambda batch, shape: 8)  # many chunks, so the threads overtake
    weights = np.array([0.5, 2.0, 4.0])

    def epoch(readers: int, validation: bool, random: bool) -> list[tuple[np.ndarray, ...]]:
        rng = np.random.default_rng(3)

        def views(q: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return augment(q, y, rng, crop=16, flips=True, mirrors=False)

        return list(train._batches([str(events)], SHAPE, 3, validation, weights, 0.01,
                                   views if random else None, rng if random else None, readers))

    for validation in (False, True):
        for random in (False, True):
            one, three = epoch(1, validation, random), epoch(3, validation, random)
            assert len(one) == len(three) == train._count_batches([str(events)], SHAPE, 3, validation) >= 4
            for a, b in zip(one, three, strict=True):
                for x, y in zip(a, b, strict=True):
                    assert x.dtype == y.dtype
                    np.testing.assert_array_equal(x, y)
    weighted = epoch(3, False, False)[0]
    hit = weighted[0] > 0
    np.testing.assert_array_equal(weighted[2][hit], weights[weighted[1][hit]].astype(np.float32))
    assert np.all(weighted[2][~hit] == np.float32(0.01)) and weighted[1].dtype == np.int32


def test_mirror_makes_the_images_of_mirrored_events() -> None:
    from hepml.models.augment import augment, mirror

    g = L.Geometry(wires=32, ticks=32)
    rng = np.random.default_rng(5)
    x, y, z = rng.uniform(1, 255, 40), rng.uniform(-127, 127, 40), rng.uniform(1, 255, 40)

    def image(x: np.ndarray, y: np.ndarray) -> np.ndarray:  # the points' pixels on the three planes
        out = np.zeros((3, g.wires, g.ticks), np.float32)
        for plane in range(3):
            wire, tick = L.project(x, y, z, g, plane)
            out[plane, wire, tick] = 1.0
        return out

    mirrored = {(d, u): image(g.drift_length - x if d else x, -y if u else y) for d in (0, 1) for u in (0, 1)}
    batch = np.repeat(image(x, y)[None], 32, axis=0)
    q, labels = mirror(batch, batch.astype(np.int64), rng)
    np.testing.assert_array_equal(labels, q)  # labels follow their charge
    seen = {next(k for k, v in mirrored.items() if np.array_equal(v, event)) for event in q}
    assert seen == set(mirrored)  # each of the four mirror images, and nothing else
    assert augment(batch, batch, rng)[0] is batch  # no lever: the batch as it is


def test_mirror_average_against_a_hand_computation() -> None:
    from hepml.errors import ConfigError
    from hepml.models.augment import mirror_average, require_mirror_planes

    charge = np.random.default_rng(2).random((2, 3, 4, 5)).astype(np.float32)
    ramp = np.arange(1, 4)[:, None, None] * np.arange(1, 6)[None, None, :] + np.zeros((3, 4, 1))  # by plane and tick

    def predict(images: np.ndarray) -> np.ndarray:  # a network that knows where it is: no mirror symmetry
        return (images * ramp)[..., None]

    # the mean over the four views, each mapped back: the ramp seen through each mirror
    views = [ramp, ramp[:, :, ::-1], ramp[[1, 0, 2]], ramp[[1, 0, 2]][:, :, ::-1]]
    expected = charge * np.mean(views, axis=0)
    np.testing.assert_allclose(mirror_average(predict, charge)[..., 0], expected, rtol=1e-6)
    np.testing.assert_allclose(mirror_average(lambda q: q[..., None], charge)[..., 0], charge)  # symmetric: as is
    with pytest.raises(ConfigError, match="score mirrors: the images have 2 planes"):
        require_mirror_planes(2, "score mirrors")


def test_training_views_crop_around_activity_and_flip_all_planes_alike() -> None:
    from hepml.models.augment import augment, crop_around_activity, flip

    rng = np.random.default_rng(3)
    charge, labels = L.simulate_images(20, SMALL, L.LArTPCConfig(cosmic_mean=2), np.random.default_rng(1))
    q, y = crop_around_activity(charge, labels, 16, rng)
    assert q.shape == y.shape == (20, 3, 16, 16)
    active = [i for i in range(20) if np.any(labels[i] > 0)]
    assert all(np.any(y[i] > 0) for i in active)  # every crop of an event with activity holds some
    # a crop is a window of the event: find it back in plane 0, then the other planes match it
    for i in active[:5]:
        hits = [(w, t) for w in range(17) for t in range(17)
                if np.array_equal(charge[i, 0, w:w + 16, t:t + 16], q[i, 0])]
        assert any(np.array_equal(charge[i, :, w:w + 16, t:t + 16], q[i]) for w, t in hits)
    fq, fy = flip(charge, labels, np.random.default_rng(0))

    def views(a: np.ndarray) -> list[np.ndarray]:  # as it is, reversed along wires, ticks, both
        return [a, np.flip(a, 1), np.flip(a, 2), np.flip(a, (1, 2))]

    for i in range(20):
        k = next(j for j, v in enumerate(views(charge[i])) if np.array_equal(v, fq[i]))
        np.testing.assert_array_equal(fy[i], views(labels[i])[k])  # labels follow their charge
    assert augment(charge, labels, rng)[0] is charge  # no lever: the batch as it is
    from hepml.tasks.cosmic.plots import draw_plane

    with pytest.raises(ValueError, match="kind 'truth': choose charge or labels"):
        draw_plane(charge[0, 0], "truth")
    with pytest.raises(ValueError, match="uresnet.crop: 20 must be divisible by 2\\^depth = 8"):
        from hepml.models.uresnet import UResNetConfig

        UResNetConfig(depth=3, crop=20)


def test_pixel_scores_are_aligned_with_each_events_pixels(segmenter: tuple[Path, Path], tmp_path: Path) -> None:
    from hepml.tasks.cosmic.score import load_segmenter, score_pixels
    from hepml.tasks.cosmic.score import predict_pixels as _predict

    bundle, events = segmenter
    out = score_pixels(bundle, str(events), tmp_path / "scores.root", write_removed=True, threshold=0.5)
    scores = uproot.open(out)["scores"].arrays()
    source = uproot.open(events)["Events"].arrays()
    assert len(scores) == len(source) == 40
    assert ak.all(scores.nPixel == source.nPixel) and np.array_equal(scores.event, source.event)
    model, _ = load_segmenter(bundle)
    charge, _ = densify(source, SHAPE)
    probs = _predict(model, charge)
    for i in (0, 7, 39):  # pixel by pixel, by hand
        for j in range(0, len(source.Pixel_plane[i]), 17):
            p, w, t = int(source.Pixel_plane[i][j]), int(source.Pixel_wire[i][j]), int(source.Pixel_tick[i][j])
            assert scores.Pixel_cosmic[i][j] == pytest.approx(probs[i, p, w, t, L.COSMIC], abs=1e-6)
            assert scores.Pixel_neutrino[i][j] == pytest.approx(probs[i, p, w, t, L.NEUTRINO], abs=1e-6)
    kept = ak.num(scores.Clean_charge)
    assert ak.all(kept == ak.sum(scores.Pixel_cosmic < 0.5, axis=1))
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(gather(probs, source)[..., L.COSMIC])),
                               ak.to_numpy(ak.flatten(scores.Pixel_cosmic)), atol=1e-6)


def test_large_windows_are_read_and_scored_a_few_at_a_time(segmenter: tuple[Path, Path], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """SBND's full window is 160 of these: with the pixel budget of a chunk cut to three windows,
    scoring reads, densifies and predicts three events at a time and writes the same scores, and
    training's chunks hold whole batches, counted as the stream makes them."""
    from hepml.io import images
    from hepml.tasks.cosmic import train
    from hepml.tasks.cosmic.score import score_pixels

    bundle, events = segmenter
    whole = uproot.open(score_pixels(bundle, str(events), tmp_path / "whole.root"))["scores"].arrays()
    monkeypatch.setattr(images, "CHUNK_PIXELS", 3 * int(np.prod(SHAPE)))
    assert images.events_per_chunk(SHAPE, 64) == 3 and images.events_per_chunk((3, 2048, 1280), 64) == 1
    seen: list[int] = []

    def counted(arrays: ak.Array, shape: tuple[int, ...], *, labels: bool = True) -> tuple[np.ndarray, Any]:
        seen.append(len(arrays))
        return densify(arrays, shape, labels=labels)

    monkeypatch.setattr("hepml.tasks.cosmic.score.densify", counted)
    few = uproot.open(score_pixels(bundle, str(events), tmp_path / "few.root"))["scores"].arrays()
    assert max(seen) == 3 and sum(seen) == len(whole) == 40
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(few.Pixel_cosmic)), ak.to_numpy(ak.flatten(whole.Pixel_cosmic)),
                               atol=1e-6)
    for batch in (2, 4):
        assert train._chunk(batch, SHAPE) == batch  # never less than a batch
        weights = np.ones(3, np.float32)
        for validation in (False, True):
            made = list(train._batches([str(events)], SHAPE, batch, validation, weights, 0.01))
            assert len(made) == train._count_batches([str(events)], SHAPE, batch, validation) > 0
            assert all(len(q) <= batch for q, _, _ in made)


def test_scores_with_mirrors_average_the_four_mirror_images(segmenter: tuple[Path, Path], tmp_path: Path) -> None:
    from hepml.tasks.cosmic.score import load_segmenter, predict_pixels, score_pixels

    bundle, events = segmenter
    source = uproot.open(events)["Events"].arrays()
    once = uproot.open(score_pixels(bundle, str(events), tmp_path / "once.root"))["scores"].arrays()
    out = score_pixels(bundle, str(events), tmp_path / "mirrors.root", mirrors=True, write_removed=True)
    scores = uproot.open(out)["scores"].arrays()
    model, _ = load_segmenter(bundle)
    charge, _ = densify(source, SHAPE)
    swap = [1, 0, 2]  # the up-down mirror exchanges the induction planes
    by_hand = np.mean([predict_pixels(model, charge),
                       np.flip(predict_pixels(model, np.flip(charge, 3)), 3),
                       predict_pixels(model, charge[:, swap])[:, swap],
                       np.flip(predict_pixels(model, np.flip(charge[:, swap], 3)), 3)[:, swap]], axis=0)
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(scores.Pixel_cosmic)),
                               ak.to_numpy(ak.flatten(gather(by_hand, source)[..., L.COSMIC])), atol=1e-6)
    assert not np.allclose(ak.to_numpy(ak.flatten(scores.Pixel_cosmic)), ak.to_numpy(ak.flatten(once.Pixel_cosmic)))
    total = ak.flatten(scores.Pixel_cosmic + scores.Pixel_neutrino)
    assert ak.all(total <= 1 + 1e-6)  # still probabilities
    assert ak.all(ak.num(scores.Clean_charge) == ak.sum(scores.Pixel_cosmic < 0.5, axis=1))  # removal follows them


def _leaves(tree: object) -> list[float]:
    if isinstance(tree, dict):
        return [v for key in sorted(tree) for v in _leaves(tree[key])]
    if isinstance(tree, list):
        return [v for item in tree for v in _leaves(item)]
    return [float(tree)]


def test_evaluation_numbers_and_errors(segmenter: tuple[Path, Path], tmp_path: Path) -> None:
    from hepml.tasks.cosmic.evaluate import evaluate_segmentation, segmentation_metrics
    from hepml.tasks.cosmic.plots import plot_event_displays
    from hepml.tasks.cosmic.score import score_pixels

    bundle, events = segmenter
    scores = score_pixels(bundle, str(events), tmp_path / "scores.root")
    metrics = evaluate_segmentation([str(events)], [str(scores)], tmp_path / "m.json", shape=SHAPE)
    plot_event_displays(bundle, str(events), tmp_path / "displays", n=1)
    # streamed in chunks of 7 events, the numbers are those of one pass over everything
    chunked = segmentation_metrics([str(events)], [str(scores)], shape=SHAPE, step=7)
    np.testing.assert_allclose(_leaves(chunked), _leaves(metrics), rtol=1e-12)
    for key in ("cosmic", "neutrino"):
        assert 0 <= metrics["iou"][key] <= 1
    assert metrics["accuracy"]["overall"] > metrics["accuracy"]["stored_pixels"] - 1e-9  # empty pixels count
    assert (tmp_path / "displays" / "event_display_0.png").exists()
    # the streamed ECE of each class's probability is that of all stored pixels at once
    from hepml.metrics import ece

    label = ak.to_numpy(ak.flatten(uproot.open(events)["Events"]["Pixel_label"].array()))
    probs = uproot.open(scores)["scores"].arrays(["Pixel_cosmic", "Pixel_neutrino"])
    for name, cls in (("cosmic", 1), ("neutrino", 2)):
        expected = ece((label == cls).astype(float), ak.to_numpy(ak.flatten(probs[f"Pixel_{name}"])))
        assert metrics["ece"][name] == pytest.approx(expected, rel=1e-9)
    other = tmp_path / "other.root"
    L.write_events(other, 40, seed=10, geometry=SMALL, first_event=500)
    with pytest.raises(HepmlError, match="do not line up"):
        evaluate_segmentation([str(other)], [str(scores)], tmp_path / "bad.json", shape=SHAPE)
    assert not (tmp_path / "bad.json").exists()
    big = tmp_path / "big.root"
    L.write_events(big, 3, seed=1, geometry=L.Geometry(wires=64, ticks=64))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(HepmlError, match="Pixel_wire reaches .* but the bundle's images have 32"):
        score_pixels(bundle, str(big), out / "s.root")
    assert leftovers(out) == []


def test_dann_training_refuses_the_plain_training_levers(segmenter: tuple[Path, Path], tmp_path: Path) -> None:
    from hepml.errors import ConfigError
    from hepml.tasks.cosmic.train import train_segmentation

    _, events = segmenter
    with pytest.raises(ConfigError, match="uresnet crop, shuffle, dice: levers of plain training"):
        train_segmentation([str(events)], tmp_path / "b", shape=SHAPE, target=[str(events)],
                           model_config={"depth": 2, "filters": 4, "crop": 16, "shuffle": True, "dice": 0.5})
    assert not (tmp_path / "b").exists()
    with pytest.raises(ConfigError, match="uresnet.mirrors: the images have 2 planes"):
        train_segmentation([str(events)], tmp_path / "b", shape=(2, 32, 32), model_config={"mirrors": True})
    with pytest.raises(ValueError, match="uresnet.schedule: 'linear' is not one of constant, cosine"):
        train_segmentation([str(events)], tmp_path / "b", shape=SHAPE, model_config={"schedule": "linear"})
    assert not (tmp_path / "b").exists()


def test_merge_seeds_keeps_the_reference_on_top_and_refuses_bad_parts(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """``hepml merge-seeds``: the first seed's metrics at the top, every seed under ``seeds``, the
    mean and spread under ``summary``; a part without a seed or a seed given twice is an error
    that writes nothing."""
    import json

    from hepml.cli import main

    parts = []
    for seed, (cosmic, neutrino) in {"42": (0.80, 0.70), "43": (0.78, 0.64)}.items():
        path = tmp_path / f"evaluation_{seed}.json"
        path.write_text(json.dumps({"iou": {"cosmic": cosmic, "neutrino": neutrino},
                                    "accuracy": {"non_background": 0.9}}))
        parts.append(f"{seed}={path}")
    out = tmp_path / "metrics.json"
    assert main(["merge-seeds", *parts, "--out", str(out)]) == 0
    merged = json.loads(out.read_text())
    assert merged["iou"] == {"cosmic": 0.80, "neutrino": 0.70} and set(merged["seeds"]) == {"42", "43"}
    assert merged["summary"]["iou.neutrino"] == {"mean": pytest.approx(0.67),
                                                 "std": pytest.approx(np.std([0.70, 0.64], ddof=1)), "n": 2}
    assert "iou.neutrino: 0.670 ± 0.042 over 2 seed(s)" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    for args, message in (([f"x={tmp_path / 'evaluation_42.json'}"], "give SEED=evaluation.json"),
                          ([str(tmp_path / "evaluation_42.json")], "is not SEED=evaluation.json"),
                          ([parts[0], parts[0]], "'42' is given twice")):
        assert main(["merge-seeds", *args, "--out", str(bad)]) == 1
        assert message in capsys.readouterr().err
        assert not bad.exists()
