"""A Keras callback that shows training as a :mod:`hepml.progress` bar instead of Keras' own log lines."""

from __future__ import annotations

from typing import Any

from hepml.models import backend
from hepml.progress import bar

backend.configure()

import keras  # noqa: E402

__all__ = ["EpochProgress"]


class EpochProgress(keras.callbacks.Callback):
    """A bar over the epochs, with the batch within the epoch and the latest losses beside it."""

    def __init__(self, desc: str = "training") -> None:
        super().__init__()
        self.desc = desc
        self._bar: Any = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._bar = bar(self.desc, self.params.get("epochs"), unit="epochs")

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if not self._bar.disable:
            self._bar.set_postfix(batch=batch + 1, **_losses(logs), refresh=False)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._bar.set_postfix(_losses(logs), refresh=False)
        self._bar.update(1)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._bar.close()


def _losses(logs: dict[str, Any] | None) -> dict[str, str]:
    return {k: f"{float(v):.4g}" for k, v in (logs or {}).items() if k.endswith("loss")}
