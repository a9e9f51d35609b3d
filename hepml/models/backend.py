"""TensorFlow start-up settings, applied before hepml imports Keras.

TensorFlow's CUDA build logs ``E ... failed call to cuInit`` at its first device query on every
machine without an NVIDIA GPU: an ERROR line in every CPU job's log that means nothing is wrong.
On such machines hepml raises TensorFlow's C++ log threshold to errors-and-above-hidden (3);
where a GPU is present it keeps warnings hidden but errors shown (2).  A value the user set in
``TF_CPP_MIN_LOG_LEVEL`` always wins, and so does ``KERAS_BACKEND``: TensorFlow is the default,
and hepml's networks also train and score on JAX and PyTorch.  Python exceptions are never
affected: a real failure still stops the job with its message.

Everything TensorFlow-specific that hepml does lives here (:func:`tf_stream`, the devices of
:func:`accelerator` and :func:`gpu_count`); the models use ``keras.ops`` and Keras data adapters only.

TensorFlow also ignores ``OMP_NUM_THREADS``, the variable through which Snakemake (from a rule's
``threads``), dask workers and batch-farm job scripts give a job its CPU budget: it starts a pool
as large as the whole machine.  Two such jobs side by side on a shared node then fight over the
cores (two Higgs DANN runs on 2 cores: 152 s each instead of 44 s, measured).  So where
``OMP_NUM_THREADS`` is set, TensorFlow's intra- and inter-op pools get the same size, unless
``TF_NUM_INTRAOP_THREADS`` / ``TF_NUM_INTEROP_THREADS`` say otherwise.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hepml.cpus import thread_budget
from hepml.errors import ConfigError

__all__ = ["configure", "gpu_visible", "limit_threads", "thread_budget", "name", "accelerator", "gpu_count",
           "mixed_policy", "Tensor", "tf_stream"]

log = logging.getLogger(__name__)

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def gpu_visible() -> bool:
    """An NVIDIA device node exists and ``CUDA_VISIBLE_DEVICES`` does not hide every device."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", "unset").strip() in ("", "-1"):
        return False
    return bool(glob.glob("/dev/nvidia[0-9]*"))


def limit_threads(threads: int) -> None:
    """Give OpenMP, the BLAS libraries and TensorFlow ``threads`` threads each (before they load)."""
    if threads < 1:
        raise ConfigError(f"threads must be at least 1, not {threads}")
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)


def configure() -> None:
    """The environment the backend starts in, then Keras itself (imported here once, quietly)."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if gpu_visible() else "3")
    threads = thread_budget()
    if threads is not None:
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
        os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(threads))
    if "keras" in sys.modules:
        return
    with _startup_lines_dropped():
        import keras  # noqa: F401  (the first import loads the backend)
    log.info("Keras backend %s; CPU threads %s; GPU %s", name(),
             f"{threads} (OMP_NUM_THREADS)" if threads else "all cores", "visible" if gpu_visible() else "none")


# what TensorFlow's C++ libraries print while they load, before any log level applies (twice per
# process): an info line about oneDNN, "Could not find cuda drivers" on every CPU node, and the like
_STARTUP = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|I0000 |"
                      r"To enable the following instructions:)")


@contextmanager
def _startup_lines_dropped() -> Iterator[None]:
    """Keep TensorFlow's C++ start-up lines out of job logs: standard error is captured while the
    backend loads, and every other line it wrote is passed on."""
    if name() != "tensorflow":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines():
                if not _STARTUP.match(line):
                    print(line, file=sys.stderr)


def name() -> str:
    """The Keras backend hepml runs on (``KERAS_BACKEND``, TensorFlow by default)."""
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def accelerator() -> bool:
    """Whether the backend sees a GPU."""
    return gpu_count() > 0


def gpu_count() -> int:
    """How many GPUs the backend sees (each backend asked in its own words)."""
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        return len(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return sum(device.platform == "gpu" for device in jax.devices())
    if backend == "torch":
        import torch

        return int(torch.cuda.device_count())  # 0 without CUDA
    return 0


def mixed_policy() -> str:
    """The mixed-precision policy for a GPU: bfloat16 (no loss scaling; Ampere and newer) on JAX and
    PyTorch, float16 with loss scaling on TensorFlow (as measured before the other backends)."""
    return "mixed_float16" if name() == "tensorflow" else "mixed_bfloat16"


@dataclass(frozen=True)
class Tensor:
    """One array of a batch's signature: its shape (None where it varies) and dtype."""

    shape: tuple[int | None, ...]
    dtype: str


def tf_stream(batches: Callable[[], Iterator[Any]], signature: Any) -> Any:
    """A prefetching ``tf.data`` pipeline over a batch-iterator factory (TensorFlow only)."""
    import tensorflow as tf

    def spec(node: Any) -> Any:
        if isinstance(node, Tensor):
            return tf.TensorSpec(node.shape, node.dtype)
        if isinstance(node, dict):
            return {key: spec(value) for key, value in node.items()}
        return tuple(spec(value) for value in node)

    return tf.data.Dataset.from_generator(batches, output_signature=spec(signature)).prefetch(tf.data.AUTOTUNE)
