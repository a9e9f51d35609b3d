"""TensorFlow start-up settings, applied before hepml imports Keras.

TensorFlow's CUDA build logs ``E ... failed call to cuInit`` at its first device query on every
machine without an NVIDIA GPU: an ERROR line in every CPU job's log that means nothing is wrong.
On such machines hepml raises TensorFlow's C++ log threshold to errors-and-above-hidden (3);
where a GPU is present it keeps warnings hidden but errors shown (2).  A value the user set in
``TF_CPP_MIN_LOG_LEVEL`` always wins, and so does ``KERAS_BACKEND`` (hepml needs TensorFlow).
Python exceptions are never affected: a real failure still stops the job with its message.
"""

from __future__ import annotations

import glob
import os

__all__ = ["configure", "gpu_visible"]


def gpu_visible() -> bool:
    """An NVIDIA device node exists and ``CUDA_VISIBLE_DEVICES`` does not hide every device."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", "unset").strip() in ("", "-1"):
        return False
    return bool(glob.glob("/dev/nvidia[0-9]*"))


def configure() -> None:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if gpu_visible() else "3")
