"""Progress on long steps (generation, feature building, training epochs, scoring).

On a terminal, a bar (``tqdm``, on standard error, gone when its step ends); ``hepml --quiet``
(or :func:`quiet`) switches bars off.  Elsewhere (a batch job's or a Snakemake rule's log) a log
line every :data:`CHUNKS_PER_LINE` steps and at the end (:mod:`hepml.logs`), so a slow job can be
told from a hung one.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["bar", "quiet", "enabled", "CHUNKS_PER_LINE"]

CHUNKS_PER_LINE = 10
log = logging.getLogger(__name__)

_QUIET: ContextVar[bool] = ContextVar("hepml_quiet", default=False)


@contextmanager
def quiet(on: bool = True) -> Iterator[None]:
    """No progress bar inside this block when ``on``."""
    token = _QUIET.set(on)
    try:
        yield
    finally:
        _QUIET.reset(token)


def enabled() -> bool:
    """Bars are drawn: not :func:`quiet`, and standard error is a terminal."""
    isatty = getattr(sys.stderr, "isatty", None)
    return not _QUIET.get() and bool(isatty and isatty())


def bar(desc: str | None, total: float | None = None, unit: str = "events") -> Any:
    """A ``tqdm`` bar named ``desc`` when bars are :func:`enabled`, else log lines (none when
    ``desc`` is None); use it as a context manager and ``update(n)`` it."""
    if desc is not None and not enabled() and not _QUIET.get():
        return LogProgress(desc, total, unit)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False, dynamic_ncols=True,
                disable=desc is None or not enabled(), file=sys.stderr)


class LogProgress:
    """What a bar shows, as a log line every :data:`CHUNKS_PER_LINE` updates and at the end."""

    disable = True  # no bar is drawn (callers skip their per-batch bar updates)

    def __init__(self, desc: str, total: float | None, unit: str) -> None:
        self.desc, self.total, self.unit = desc, total, unit
        self.done, self.updates, self.start = 0.0, 0, time.perf_counter()

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        self.done += n
        self.updates += 1
        if self.updates % CHUNKS_PER_LINE == 0:
            self._line()

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        if self.updates % CHUNKS_PER_LINE:
            self._line()

    def _line(self) -> None:
        of = f" of {self.total:,.0f}" if self.total else ""
        log.info("%s: %s%s %s, %.1f s", self.desc, f"{self.done:,.0f}", of, self.unit,
                 time.perf_counter() - self.start)
