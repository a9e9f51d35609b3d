"""Training the UResNet cosmic tagger on sparse LArTPC files (optionally domain-adversarially).

Images are densified chunk by chunk from the ROOT files inside a prefetching stream (``tf.data`` on
TensorFlow, a read-ahead thread on JAX and PyTorch: :mod:`hepml.models.streams`),
so the training set never has to fit in memory.  The validation windows
(:func:`hepml.split.is_validation_window`) are never trained on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import awkward as ak
import numpy as np

from hepml.bundle import write_bundle
from hepml.cpus import usable_cores
from hepml.errors import ConfigError, EmptyInputError
from hepml.io.atomic import atomic_path, check_replaceable
from hepml.io.background import ordered_map
from hepml.io.images import events_per_chunk, iter_images
from hepml.io.read import iterate, resolve_sources
from hepml.split import is_validation_window

__all__ = ["train_segmentation", "CLASSES"]

CLASSES = ("background", "cosmic", "neutrino")


def _chunk(batch: int, shape: Sequence[int]) -> int:
    """Events read per chunk: several batches, so densifying is vectorised over many events, within
    the memory of a chunk (:func:`hepml.io.images.events_per_chunk`) but never less than a batch."""
    return max(batch, events_per_chunk(shape, max(batch * 8, 64)) // batch * batch)


def _in_split(arrays: Any, validation: bool) -> np.ndarray:
    """Training or validation windows (:func:`hepml.split.is_validation_window`)."""
    return is_validation_window(ak.to_numpy(arrays["event"])) == validation


def _batches(inputs: Sequence[str], shape: Sequence[int], batch: int, validation: bool,
             weights: np.ndarray, empty_weight: float, views: Callable[[np.ndarray, np.ndarray], Any] | None = None,
             shuffle: np.random.Generator | None = None,
             readers: int = 1) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(charge, labels, pixel weights) batches of one split; ``views`` turns a training batch into
    its training view (:func:`hepml.models.augment.augment`), ``shuffle`` reorders each chunk's
    training windows; validation is on whole windows, in file order.  ``readers`` threads densify
    chunks and make batches ahead (the random views stay in this thread, in order): the batches do
    not depend on their number."""
    from hepml.models.uresnet import pixel_weights

    def rows() -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Each batch's windows: a chunk's images and the rows of that batch."""
        for charge, labels, arrays in iter_images(inputs, shape, step_size=_chunk(batch, shape), readers=readers):
            assert labels is not None  # read with labels
            kept = np.flatnonzero(_in_split(arrays, validation))
            if shuffle is not None and not validation:
                kept = kept[shuffle.permutation(len(kept))]
            for i in range(0, len(kept), batch):
                yield charge, labels, kept[i:i + batch]

    def finished(q: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return q, y.astype(np.int32), pixel_weights(y, q, weights, empty_weight)

    def whole(item: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        charge, labels, taken = item
        return finished(charge[taken], labels[taken])

    if views is None or validation:
        yield from ordered_map(whole, rows(), readers)
        return
    for charge, labels, taken in rows():
        yield finished(*views(charge[taken], labels[taken]))


def _dann_batches(sources: Sequence[str], targets: Sequence[str], shape: Sequence[int], batch: int, validation: bool,
                  weights: np.ndarray, empty_weight: float, readers: int = 1) -> Iterator[tuple[Any, ...]]:
    """Source batches with as many target images each; the target files are read without their
    label branch and cycled when they run out before the source (:func:`_check_target` made sure
    that each split of the target has images, so the cycle never spins on nothing)."""
    from hepml.models.dann import dann_image_batch

    def target_images() -> Iterator[np.ndarray]:
        while True:
            for charge, _, arrays in iter_images(targets, shape, step_size=_chunk(batch, shape), labels=False,
                                                 readers=readers):
                charge = charge[_in_split(arrays, validation)]
                for i in range(0, len(charge), batch):
                    yield charge[i:i + batch]

    stream = target_images()
    for q, y, w in _batches(sources, shape, batch, validation, weights, empty_weight, readers=readers):
        yield dann_image_batch(q, y, w, next(stream))


def _count_batches(files: Sequence[str], shape: Sequence[int], batch: int, validation: bool = False) -> int:
    """Batches per epoch of one split, as :func:`_batches` makes them (streams and DANN schedules)."""
    return sum(-(-int(np.sum(_in_split(c.arrays, validation))) // batch)
               for c in iterate(files, ["event"], step_size=_chunk(batch, shape)))


def _check_target(targets: Sequence[str], shape: Sequence[int], batch: int) -> None:
    """Fail before training, with a plain message: inside a stream an error reaches the user
    wrapped in a TensorFlow traceback."""
    next(iter_images(targets, shape, step_size=1, labels=False), None)  # missing branches, unreadable files
    for validation, split in ((False, "training"), (True, "validation")):
        if _count_batches(targets, shape, batch, validation) == 0:
            raise EmptyInputError(f"{', '.join(targets)}: no target events for the {split} set (events with "
                                  f"event % 10 {'==' if validation else '!='} 0); give DANN more unlabelled events")


def _class_weights(sources: Sequence[str], shape: tuple[int, ...]) -> np.ndarray:
    """Class weights from the first chunks (a few hundred events are plenty for frequencies)."""
    from hepml.models.uresnet import class_weights

    first = next(iter_images(sources, shape, step_size=events_per_chunk(shape, 256)), None)
    if first is None:
        raise EmptyInputError(f"{', '.join(sources)}: no events to train on")
    assert first[1] is not None  # read with labels
    return class_weights(first[1], first[0])


def _initial_network(bundle: str | os.PathLike[str], shape: tuple[int, ...], config: Any) -> tuple[Any, str]:
    """The network a warm start begins from and its file; it must have the shape and architecture
    being trained."""
    from hepml.tasks.cosmic.score import load_segmenter

    model, info = load_segmenter(bundle)
    architecture = ("depth", "filters", "blocks")
    theirs = {k: info["provenance"]["config"].get("model_config", {}).get(k) for k in architecture}
    ours = {k: getattr(config, k) for k in architecture}
    if tuple(info["shape"]) != shape or theirs != ours:
        raise ConfigError(f"{bundle}: a warm start needs a network of the same shape and architecture; it has "
                          f"{tuple(info['shape'])}, {theirs}, the DANN network {shape}, {ours}")
    return model, os.path.join(bundle, info["models"][0])


def _fit_dann(sources: list[str], targets: list[str], shape: tuple[int, ...], config: Any, weights: np.ndarray,
              dann_config: dict[str, Any] | None, seed: int, settings: dict[str, Any],
              start: Any, readers: int) -> tuple[Any, dict[str, Any]]:
    """Domain-adversarial training: each source batch with as many unlabelled target images;
    ``start``, a loaded network, is where a warm start begins (None: from scratch)."""
    from hepml.models.dann import DannConfig, fit_dann_uresnet

    dann = DannConfig.from_dict(dann_config)
    levers = [name for name, on in (("crop", config.crop), ("flips", config.flips), ("mirrors", config.mirrors),
                                    ("shuffle", config.shuffle), ("schedule", config.schedule != "constant"),
                                    ("dice", config.dice)) if on]
    if levers:
        raise ConfigError(f"uresnet {', '.join(levers)}: levers of plain training; DANN training uses whole windows in "
                          "file order, its own schedule and loss: leave them out of the DANN study's uresnet settings")
    if dann.warm_start and start is None:
        raise ConfigError("dann.warm_start: give the source-only bundle to start from (train_segmentation(..., "
                          "initial=BUNDLE), hepml train-segmentation --initial BUNDLE)")
    _check_target(targets, shape, config.batch_size)
    settings["dann"] = {**dann.as_dict(), "warm_start": start is not None}

    def batches(validation: bool) -> Iterator[tuple[Any, ...]]:
        return _dann_batches(sources, targets, shape, config.batch_size, validation, weights, config.empty_weight,
                             readers)

    steps = _count_batches(sources, shape, config.batch_size), _count_batches(sources, shape, config.batch_size, True)
    return fit_dann_uresnet(batches, shape, config, dann, *steps, seed=seed, progress="training UResNet (DANN)",
                            initial=start)


def _reader_threads(on_gpu: bool) -> int:
    """Threads that densify the training stream's windows: on a GPU node the job's cores but one, at
    most 8 (the devices want tens of full windows a second, one thread gives 20 to 35:
    docs/howto/gpu.md); on a CPU the cores train the network and one thread reads, as ever."""
    return max(1, min(8, usable_cores() - 1)) if on_gpu else 1


def train_segmentation(inputs: Sequence[str], out: str | os.PathLike[str], *, shape: Sequence[int],
                       model_config: dict[str, Any] | None = None, seed: int = 0,
                       target: Sequence[str] | None = None, dann_config: dict[str, Any] | None = None,
                       initial: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Train the UResNet on sparse event files; write a bundle (model.keras + bundle.json).

    With ``target`` (unlabelled files, e.g. data), train domain-adversarially: every batch adds as
    many target images, whose labels are never read; the bundle holds the task network only.
    ``initial`` (a segmentation bundle, with ``target`` only) starts the DANN network from that
    network, e.g. the source-only one: a warm start."""
    from hepml.models.augment import augment, require_mirror_planes
    from hepml.models.parallel import data_parallel
    from hepml.models.uresnet import UResNetConfig, fit_uresnet, use_mixed_precision_if_gpu

    check_replaceable(out, "bundle")  # before the training, not after it
    config = UResNetConfig.from_dict(model_config)
    shape = tuple(int(s) for s in shape)
    if config.mirrors:
        require_mirror_planes(shape[0], "uresnet.mirrors")
    if initial is not None and not target:
        raise ConfigError(f"initial {initial}: a warm start of DANN training; give the target files too")
    sources = [str(s) for s in resolve_sources(list(inputs))]
    targets = [str(s) for s in resolve_sources(list(target))] if target else []
    # the starting network is an input like the files: its hash goes into the provenance
    start, start_file = _initial_network(initial, shape, config) if initial is not None else (None, None)
    mixed = use_mixed_precision_if_gpu()
    weights = _class_weights(sources, shape)
    settings: dict[str, Any] = {"model_config": config.as_dict(), "shape": list(shape)}
    readers = _reader_threads(on_gpu=mixed)  # mixed precision is switched on exactly where a GPU is seen
    # a DANN batch holds as many target windows as source ones: the devices split both
    with data_parallel(config.batch_size * (2 if targets else 1)) as devices:
        if targets:
            model, history = _fit_dann(sources, targets, shape, config, weights, dann_config, seed, settings, start,
                                       readers)
        else:
            rng = np.random.default_rng([seed, 7])

            def views(q: np.ndarray, y: np.ndarray) -> Any:
                return augment(q, y, rng, crop=config.crop, flips=config.flips, mirrors=config.mirrors)

            model, history = fit_uresnet(
                lambda validation: _batches(sources, shape, config.batch_size, validation, weights,
                                            config.empty_weight, views, rng if config.shuffle else None, readers),
                shape, config, (_count_batches(sources, shape, config.batch_size),
                                _count_batches(sources, shape, config.batch_size, True)),
                seed=seed, progress="training UResNet")
    settings["devices"] = devices
    with atomic_path(out, kind="bundle") as folder:
        folder.mkdir()
        model.save(folder / "model.keras")
        return write_bundle(folder, kind="segmentation", model="uresnet-dann" if targets else "uresnet",
                            models=["model.keras"], seed=seed, settings=settings,
                            inputs=[*sources, *targets, *([start_file] if start_file else [])],
                            history=history, shape=list(shape), classes=list(CLASSES),
                            class_weights=weights.tolist(), mixed_precision=mixed)
