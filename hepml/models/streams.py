"""Streams of batches for ``model.fit`` on every Keras backend.

Training data that does not fit in memory (LArTPC windows densified chunk by chunk from ROOT files)
comes as a *factory* of batch iterators, one pass per epoch.  On TensorFlow it goes through a
prefetching ``tf.data`` pipeline (:func:`hepml.models.backend.tf_stream`, the fastest there); on
JAX and PyTorch through :class:`Stream`, a ``keras.utils.PyDataset`` that reads ahead in a thread,
so reading and densifying overlap the training on those backends too.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from hepml.models import backend

backend.configure()

import keras  # noqa: E402

__all__ = ["Stream", "batch_stream", "Tensor"]

Tensor = backend.Tensor
_END = object()


class Stream(keras.utils.PyDataset):
    """``count`` batches per epoch from ``batches()``, read ahead ``depth`` batches in a thread.

    Batch 0 starts a new pass; the others must be asked for in order, which Keras does with one
    worker and ``model.fit(..., shuffle=False)``: by default ``fit`` shuffles a PyDataset's indices,
    and a stream answering them in file order would repeat some batches of an epoch and skip
    others (hepml shuffles a stream's windows itself, ``uresnet.shuffle``)."""

    def __init__(self, batches: Callable[[], Iterator[Any]], count: int, depth: int = 4) -> None:
        super().__init__()
        self._batches, self._count, self._depth = batches, int(count), depth
        self._queue: queue.Queue[Any] | None = None
        self._stop = threading.Event()
        self._next = 0

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> Any:
        if index == 0:
            self._start()
        elif self._queue is None or index != self._next:
            raise RuntimeError(f"batch {index} of a stream asked for where batch {self._next} comes next: a stream "
                               "is read in order (model.fit(..., shuffle=False))")
        assert self._queue is not None
        self._next = index + 1
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        if item is _END:
            raise RuntimeError(f"the batch stream ended after {index} of its {self._count} batches")
        return item

    def _start(self) -> None:
        self._stop.set()  # a previous pass, if any, stops at its next batch
        stop, out = threading.Event(), queue.Queue[Any](self._depth)

        def produce() -> None:
            try:
                for item in self._batches():
                    while not stop.is_set():
                        try:
                            out.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                out.put(_END)
            except BaseException as err:  # noqa: BLE001 (handed to the training thread, raised there)
                out.put(err)

        self._stop, self._queue = stop, out
        threading.Thread(target=produce, name="hepml-batches", daemon=True).start()


def batch_stream(batches: Callable[[], Iterator[Any]], signature: Any, count: int) -> Any:
    """What ``model.fit`` reads: ``tf.data`` on TensorFlow, else a :class:`Stream` of ``count``
    batches; ``signature`` is the batch's structure with :class:`Tensor` leaves."""
    if keras.backend.backend() == "tensorflow":
        return backend.tf_stream(batches, signature)
    return Stream(batches, count)
