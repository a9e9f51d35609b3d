"""Shared figure helpers for every task: one style, applied per figure, and atomic PDF + PNG output.

Importing this module changes neither the matplotlib backend nor the global style, so a notebook
(coffea, say) keeps its own: figures are made inside :func:`figure`, which applies the mplhep
style to that figure only.  Task figures live with their task (``hepml.tasks.<task>.plots``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["figure", "save", "STYLE"]

STYLE = "ROOT"


@contextmanager
def figure(*args: Any, **kwargs: Any) -> Iterator[tuple[Any, Any]]:
    """``plt.subplots(*args, **kwargs)`` under the mplhep style; yields (figure, axes)."""
    import matplotlib.pyplot as plt
    import mplhep

    with plt.style.context(getattr(mplhep.style, STYLE)):
        fig, axes = plt.subplots(*args, **kwargs)
        try:
            yield fig, axes
        finally:
            plt.close(fig)


def save(fig: Any, out: Path, name: str) -> list[Path]:
    """``out/name.pdf`` and ``out/name.png``, each written atomically."""
    from hepml.io.atomic import atomic_path

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("pdf", "png"):
        target = out / f"{name}.{ext}"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=ext, bbox_inches="tight", dpi=110)
        paths.append(target)
    return paths
