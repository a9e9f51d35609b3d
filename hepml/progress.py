"""Progress bars on long steps (generation, feature building, training epochs, scoring).

A bar is drawn only when standard error is a terminal, so a batch job's or a Snakemake rule's log
stays clean; ``hepml --quiet`` (or :func:`quiet`) switches them off in a terminal too.  Bars go to
standard error through ``tqdm`` and disappear when their step ends.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["bar", "quiet", "enabled"]

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
    """A ``tqdm`` bar named ``desc`` (disabled, costing nothing, when ``desc`` is None or bars are
    not :func:`enabled`); use it as a context manager and ``update(n)`` it."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False, dynamic_ncols=True,
                disable=desc is None or not enabled(), file=sys.stderr)
