"""Logs that say what runs: the standard library's ``logging``, one logger per module.

A library stays silent (the ``hepml`` logger has only a ``NullHandler``) until an application asks:
the command line calls :func:`setup` with ``--log-level`` (INFO by default), so a batch job's log
holds one line per epoch, one per few chunks read or scored, and what a job decided at its start
(backend, devices, thread budget, the size rule), each with the time and the module::

    2026-12-04 20:11:03 INFO hepml.models.dense: epoch 3/30: loss 0.5123, val_loss 0.5201, lr 0.002, 4.1 s

Progress bars (:mod:`hepml.progress`) replace the per-chunk lines on a terminal.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["setup", "LEVELS", "FORMAT"]

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

logging.getLogger("hepml").addHandler(logging.NullHandler())


def setup(level: str = "INFO") -> None:
    """Send the ``hepml`` loggers' records of ``level`` and above to standard error, one line each,
    and Python warnings with them (``logging.captureWarnings``)."""
    root = logging.getLogger("hepml")
    root.setLevel(level)
    if not any(getattr(h, "_hepml", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
        handler._hepml = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        warnings = logging.getLogger("py.warnings")
        warnings.addHandler(handler)
        warnings.propagate = False
    logging.captureWarnings(True)
