"""Data-parallel training of the UResNet across the accelerators one job is given.

A batch-farm job that asks for several GPUs (``--set-resources cosmic_train:gpu=4``: SLURM then
sets ``CUDA_VISIBLE_DEVICES`` to them) trains on all of them: each batch is split along its first
axis across the devices and the gradients are summed, through Keras' own
``keras.distribution.DataParallel``.  That API is implemented for the JAX backend only (Keras 3.15
marks its TensorFlow version "do not use"; PyTorch has none), so on TensorFlow and PyTorch a job
with several GPUs trains on one and says so.

On JAX the split is exact (one program over the devices, GSPMD): batch normalisation sees the
whole batch, so the losses are those of one device with the same batch, within rounding.  The
batch is the global one: ``uresnet.batch_size`` windows per step, divided among the devices, so
results do not depend on how many GPUs a job got; a batch that the devices do not divide runs on
the largest number of them that does.  Several nodes (``keras.distribution.initialize()`` in each
SLURM task) are not built: docs/howto/gpu.md has the arithmetic of why one node suffices.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from hepml.models import backend

backend.configure()

import keras  # noqa: E402

__all__ = ["data_parallel", "devices_for"]

log = logging.getLogger(__name__)


def devices_for(batch_size: int, available: int) -> int:
    """How many of ``available`` devices a batch of ``batch_size`` is split over: the most that
    divide it evenly (each device then holds the same number of windows)."""
    return max(n for n in range(1, max(available, 1) + 1) if batch_size % n == 0)


@contextmanager
def data_parallel(batch_size: int) -> Iterator[int]:
    """Build and train the network inside this: with several devices visible to JAX, a
    ``DataParallel`` distribution over as many as :func:`devices_for` allows; yields their number
    (1: the backend's single-device default, nothing changed)."""
    if backend.name() != "jax":
        gpus = backend.gpu_count()
        if gpus > 1:
            log.warning("%d GPUs visible; hepml trains data-parallel on JAX only (KERAS_BACKEND=jax): "
                        "this job uses one", gpus)
        yield 1
        return
    devices = keras.distribution.list_devices()
    count = devices_for(batch_size, len(devices))
    if count < len(devices):
        log.warning("batches of %d windows over %d devices: training on %d (a uresnet.batch_size that makes "
                    "them a multiple of %d uses them all)", batch_size, len(devices), count, len(devices))
    if count == 1:
        yield 1
        return
    log.info("data-parallel training: each batch of %d split over %d devices (%s)", batch_size, count,
             ", ".join(devices[:count]))
    with keras.distribution.DataParallel(devices=devices[:count]).scope():
        yield count

